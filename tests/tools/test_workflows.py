"""The GitHub workflows are valid (GitHub's schema, offline) and run what the course relies on."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from colab_course_tools.config import load_config
from course_under_test import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CPU = WORKFLOWS / "lessons-cpu.yml"
GPU = WORKFLOWS / "lessons-gpu.yml"  # absent when the course was generated with gpu_ci = none
COLAB = WORKFLOWS / "lessons-colab.yml"
STUDENT = WORKFLOWS / "student-course.yml"
GRADE = WORKFLOWS / "grade.yml"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e ./tools -e '.[dev]')")
    return found


def check_jsonschema() -> list[str]:
    return [tool("check-jsonschema")]


def zizmor(folder: Path) -> subprocess.CompletedProcess:
    """zizmor's widest persona, offline: every finding, including the ones that may be false alarms."""
    return subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--persona=auditor",
            "--collect=workflows,dependabot",
            "--no-progress",
            str(folder),
        ],
        capture_output=True,
        text=True,
    )


def gh(expression: str) -> str:
    """A GitHub Actions expression as the workflow writes it: a dollar sign, the expression in double
    braces (built here, since this file is itself a template that would read the braces)."""
    return "$" + "{" * 2 + f" {expression} " + "}" * 2


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(workflow: dict) -> list[dict]:
    """The steps of every job, in order."""
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def step_running(workflow: dict, command: str) -> dict:
    matches = [step for step in steps(workflow) if command in step.get("run", "")]
    assert matches, f"no step runs {command!r}"
    return matches[0]


def step_using(workflow: dict, action: str) -> dict:
    matches = [step for step in steps(workflow) if step.get("uses", "").startswith(action + "@")]
    assert matches, f"no step uses {action}"
    return matches[0]


@pytest.mark.parametrize("path", [CPU, GPU, COLAB, STUDENT, GRADE], ids=["cpu", "gpu", "colab", "student", "grade"])
def test_workflow_matches_githubs_schema(path):
    if not path.exists():
        pytest.skip(f"{path.name} is not part of this course (gpu_ci = none)")
    result = subprocess.run(
        [*check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_a_workflow_security_linter():
    result = zizmor(ROOT / ".github")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_the_linter_catches_a_tag_pin_and_kept_credentials(tmp_path):
    """The check above can fail: the same linter flags the two mistakes this course avoids."""
    copy = tmp_path / ".github"
    shutil.copytree(ROOT / ".github", copy)
    workflow = copy / "workflows" / CPU.name
    text = workflow.read_text()
    pinned = re.search(r"actions/checkout@[0-9a-f]{40} # v\S+", text).group()
    workflow.write_text(
        text.replace(pinned, "actions/checkout@v4").replace("persist-credentials: false", "fetch-depth: 1")
    )
    result = zizmor(copy)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout and "artipacked" in result.stdout


@pytest.mark.parametrize("path", [CPU, GPU, COLAB, GRADE], ids=["cpu", "gpu", "colab", "grade"])
def test_actions_are_pinned_by_commit_with_least_permissions(path):
    if not path.exists():
        pytest.skip(f"{path.name} is not part of this course (gpu_ci = none)")
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        publishing = {"pages": "write", "id-token": "write"}  # GitHub Pages' deploy job, and only it
        assert job["permissions"] == (publishing if name == "pages" else {"contents": "read"}), name
    for line in path.read_text().splitlines():
        if "uses:" in line:
            assert re.search(r"uses: [\w-]+/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line
    checkouts = [step for step in steps(workflow) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_dependabot_keeps_the_action_pins_current():
    config = ROOT / ".github" / "dependabot.yml"
    result = subprocess.run(
        [*check_jsonschema(), "--builtin-schema", "vendor.dependabot", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (update,) = yaml.safe_load(config.read_text())["updates"]
    assert update["package-ecosystem"] == "github-actions" and update["directory"] == "/"


def test_cpu_workflow_runs_smoke_lessons_on_every_push_and_pull_request():
    workflow = load(CPU)
    assert {"push", "pull_request"} <= set(workflow["on"])
    for name in ("lessons", "unit", "report"):
        job = workflow["jobs"][name]
        assert job["runs-on"] == "ubuntu-latest"
        setup = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@"))
        assert setup["with"]["cache"] == "pip" and "constraints/ci.txt" in setup["with"]["cache-dependency-path"]
        assert setup["with"]["python-version"] == gh("steps.python.outputs.version")
    install = step_running(workflow, "pip install")
    assert (
        install["run"].strip() == 'pip install -e ./tools -e ".[dev,site,exercises,dask,slurm]" -c constraints/ci.txt'
    )
    assert (ROOT / "constraints" / "ci.txt").is_file()
    unit = [step.get("run", "") for step in workflow["jobs"]["unit"]["steps"]]
    assert "course check" in unit and "python -m pytest -n 2 --ignore=tests/test_lessons.py" in unit
    assert "course assign && course grade --untouched -n 2" in unit


def test_lessons_run_in_ci_shards_jobs_whose_reports_merge_into_one():
    """A matrix of `ci_shards` jobs ([tool.course]), each uploading report-<I>; a last job merges them
    (failing when the merge fails), writes the job summary and keeps the merged artifact."""
    workflow = load(CPU)
    plan, lessons, report = (workflow["jobs"][name] for name in ("plan", "lessons", "report"))
    assert lessons["needs"] == "plan" and lessons["strategy"]["fail-fast"] is False
    assert lessons["strategy"]["matrix"]["shard"] == gh("fromJSON(needs.plan.outputs.shards)")
    run = step_running(workflow, "course test")
    assert run["run"].strip() == 'course test --smoke -n 2 --shard "$SHARD"'
    assert run["env"]["SHARD"] == f"{gh('matrix.shard')}/{gh('needs.plan.outputs.count')}"
    upload = next(step for step in lessons["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["name"] == "report-" + gh("matrix.shard")
    assert {"build/report.json", "build/report.md", "build/executed/"} <= set(upload["with"]["path"].split())
    cache = next(step for step in lessons["steps"] if step.get("uses", "").startswith("actions/cache@"))
    assert "shard-" + gh("matrix.shard") in cache["with"]["key"]
    assert report["needs"] == "lessons" and report["if"] == gh("!cancelled()")
    names = [step.get("run", step.get("uses", "")).split("@")[0].strip() for step in report["steps"]]
    download = step_using(workflow, "actions/download-artifact")
    assert download["with"] == {"pattern": "report-*", "path": "shards"}
    merge = names.index("course report merge shards/*")
    assert names.index("actions/download-artifact") < merge < names.index("course site")
    summary = step_running(workflow, "GITHUB_STEP_SUMMARY")
    assert summary["if"] == "always()" and "build/report.md" in summary["run"]


def assert_sharded_and_merged(workflow: dict, artifact: str) -> None:
    """The shape every lesson workflow shares: plan -> lessons matrix uploading <artifact>-<I> -> report merging them."""
    lessons, report = workflow["jobs"]["lessons"], workflow["jobs"]["report"]
    assert lessons["needs"] == "plan" and lessons["strategy"]["fail-fast"] is False
    assert lessons["strategy"]["matrix"]["shard"] == gh("fromJSON(needs.plan.outputs.shards)")
    upload = next(step for step in lessons["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == f"{artifact}-" + gh("matrix.shard") and upload["if"] == "always()"
    download = next(step for step in report["steps"] if step.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"] == {"pattern": f"{artifact}-*", "path": "shards"}
    assert "course report merge shards/*" in [step.get("run") for step in report["steps"]]
    assert report["needs"] == "lessons" and report["if"].startswith(gh("!cancelled()")[:-3])


def test_ci_shards_come_from_pyproject(tmp_path):
    """The plan job's step, run here: `ci_shards` from [tool.course] gives the matrix."""
    script = step_running(load(CPU), "ci_shards")["run"]
    written = step_output(script, tmp_path)
    count = load_config(ROOT).ci_shards
    assert written.splitlines() == [f"count={count}", f"shards={list(range(1, count + 1))}"]


def step_output(script: str, tmp_path) -> str:
    """What a step's script writes to $GITHUB_OUTPUT, run here with bash in the course folder."""
    output = tmp_path / "github_output"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return output.read_text()


def test_the_website_is_built_from_the_executed_lessons_and_published_from_the_default_branch_only():
    workflow = load(CPU)
    job, pages = workflow["jobs"]["report"], workflow["jobs"]["pages"]
    names = [step.get("run", step.get("uses", "")) for step in job["steps"]]
    assert names.index("course report merge shards/*") < names.index("course site"), "built from what ran, not rerun"
    assert "course test" not in " ".join(names)
    default_branch = "github.event_name != 'pull_request' && github.ref_name == github.event.repository.default_branch"
    assert step_running(workflow, "course site")["if"] == default_branch
    upload = step_using(workflow, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "build/site" and upload["if"] == default_branch
    assert pages["needs"] == "report" and pages["if"] == default_branch
    assert pages["environment"]["name"] == "github-pages"
    assert [step["uses"].split("@")[0] for step in pages["steps"]] == [
        "actions/configure-pages",
        "actions/deploy-pages",
    ]


def test_python_version_step_reads_pyproject(tmp_path):
    """The CPU job installs the Python version the course requires (requires-python = ">=X.Y")."""
    written = step_output(step_running(load(CPU), "requires-python")["run"], tmp_path)
    wanted = next(
        line.split('">=')[1].split('"')[0]
        for line in (ROOT / "pyproject.toml").read_text().splitlines()
        if line.startswith("requires-python")
    )
    assert written == f"version={wanted}\n"


def test_gpu_workflow_runs_full_lessons_on_a_self_hosted_gpu_runner():
    if not GPU.exists():
        pytest.skip("no GPU workflow in this course (gpu_ci = none)")
    workflow = load(GPU)
    assert "pull_request" not in workflow["on"]  # forks must not run code on the GPU machine
    job = workflow["jobs"]["lessons"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert [name for name, other in workflow["jobs"].items() if other["runs-on"] != "ubuntu-latest"] == ["lessons"]
    assert step_running(workflow, "course test")["run"].strip() == 'course test --gpu --shard "$SHARD"'
    assert_sharded_and_merged(workflow, "gpu-report")
    install = step_running(workflow, "venv")["run"]
    assert "--system-site-packages" in install  # keep the runner's CUDA torch
    assert "-c .venv/constraints-gpu.txt" in install
    assert step_using(workflow, "actions/upload-artifact")["if"] == "always()"


def test_gpu_job_installs_ci_versions_of_everything_but_torch(tmp_path):
    if not GPU.exists():
        pytest.skip("no GPU workflow in this course (gpu_ci = none)")
    (grep,) = [line.strip() for line in step_running(load(GPU), "venv")["run"].splitlines() if "grep" in line]
    (tmp_path / ".venv").mkdir()
    (tmp_path / "constraints").mkdir()
    shutil.copy(ROOT / "constraints" / "ci.txt", tmp_path / "constraints" / "ci.txt")
    done = subprocess.run(["bash", "-c", grep], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    kept = (tmp_path / ".venv" / "constraints-gpu.txt").read_text().splitlines()
    pinned = (ROOT / "constraints" / "ci.txt").read_text().splitlines()
    assert not [line for line in kept if line.startswith(("torch==", "torchvision=="))]
    assert [line for line in pinned if not line.startswith(("torch==", "torchvision=="))] == kept
    assert any(line.startswith("fastai==") for line in kept)


def test_colab_workflow_runs_lessons_and_tests_on_colabs_versions_every_push_and_week():
    workflow = load(COLAB)
    assert "push" in workflow["on"] and "workflow_dispatch" in workflow["on"]
    (schedule,) = workflow["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit(), "once a week"
    refresh = step_running(workflow, "colab-pins")
    assert refresh["if"] == "github.event_name == 'schedule'", "pushes test the committed pins"
    names = [step.get("run", "") or step.get("uses", "") for step in workflow["jobs"]["lessons"]["steps"]]
    install = step_running(workflow, "pip install")
    assert install["run"].strip() == 'pip install -e ./tools -e ".[dev]" -c constraints/colab.txt'
    run = 'course test --smoke -n 2 --shard "$SHARD"'
    assert names.index(refresh["run"]) < names.index(install["run"]) < names.index(run)
    unit = [step.get("run", "") for step in workflow["jobs"]["unit"]["steps"]]
    assert refresh["run"] in unit and "python -m pytest -n 2 --ignore=tests/test_lessons.py" in unit
    assert_sharded_and_merged(workflow, "colab-report")


def test_colab_workflow_takes_the_python_colab_has(tmp_path):
    written = step_output(step_running(load(COLAB), "# python:")["run"], tmp_path)
    wanted = next(
        line.split(":")[1].strip()
        for line in (ROOT / "constraints" / "colab.txt").read_text().splitlines()
        if line.startswith("# python:")
    )
    assert written == f"version={wanted}\n" and wanted.startswith("3.")


def test_the_weekly_refresh_step_needs_nothing_but_the_standard_library(tmp_path):
    """The step runs before anything is installed: here `python3` is this Python without site-packages."""
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", ".venv", "build", "data", "checkpoints"))
    freeze, os_info = tmp_path / "freeze.txt", tmp_path / "os-info.txt"
    freeze.write_text("fastai==2.8.9\ntorch==2.11.0+cu128\n")
    os_info.write_text("Python 3.13.15\n")
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@" --freeze "{freeze}" --os-info "{os_info}"\n')
    shim.chmod(0o755)
    script = step_running(load(COLAB), "colab-pins")["run"].replace("git diff", "true")
    done = subprocess.run(
        ["bash", "-c", script], cwd=course, capture_output=True, text=True, env={"PATH": f"{shim.parent}:/usr/bin:/bin"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fastai==2.8.9" in (course / "constraints" / "colab.txt").read_text()


def test_the_student_course_is_published_only_from_the_default_branch_when_asked():
    """Off until STUDENT_REPO is set; its deploy key lives in an environment of its own."""
    workflow = load(STUDENT)
    (job,) = workflow["jobs"].values()
    assert job["if"] == "vars.STUDENT_REPO != '' && github.ref_name == github.event.repository.default_branch"
    assert job["environment"] == "student-course" and job["permissions"] == {"contents": "read"}
    assert 'course student-course ../student --repo "$STUDENT_REPO"' in step_running(workflow, "student-course")["run"]
    assert step_running(workflow, "pip install")["run"].strip() == "pip install --no-deps -e teacher/tools"


def test_the_grading_workflow_runs_by_hand_with_the_sandbox_allowed_on_ubuntu_24_04():
    """bubblewrap needs unprivileged user namespaces, which Ubuntu 24.04's AppArmor restricts: the job installs
    it and lifts the restriction before grading; the lessons run first, so their downloads are in data/."""
    workflow = load(GRADE)
    assert set(workflow["on"]) == {"workflow_dispatch"}  # by hand only: never on a push or pull request
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04" and job["permissions"] == {"contents": "read"}
    commands = [step.get("run", "") for step in steps(workflow)]
    sandbox = next(index for index, run in enumerate(commands) if "bubblewrap" in run)
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in commands[sandbox]
    lessons = next(index for index, run in enumerate(commands) if run.startswith("course test"))
    grading = next(index for index, run in enumerate(commands) if "course grade" in run)
    assert sandbox < lessons < grading and "--trust-submissions" not in commands[grading]
    assert step_using(workflow, "actions/upload-artifact")["with"]["path"].split() == [
        "build/grades.csv",
        "build/feedback/",
    ]
