"""The lessons' setup cell in a simulated Colab, run in one real kernel.

Colab is simulated by a `google.colab` package on the kernel's path whose `drive.mount(path)`
creates `<path>/MyDrive`; the course is cloned from a bare git repository of this course
(`COURSE_REPO_URL=file://...`). Everything else is real: git, the kernel, autoreload, IPython.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import PACKAGE, ROOT
from {{ cookiecutter.package }}.config import load_config
from {{ cookiecutter.package }}.notebooks import setup_cell_source
from {{ cookiecutter.package }}.testing import git

# The tests share one simulated Colab session (the `colab` fixture): one worker runs them all.
pytestmark = pytest.mark.xdist_group("colab")
CONFIG = load_config(ROOT)
SETUP_CELL = setup_cell_source(CONFIG)  # what every lesson starts with (test_lesson_files checks that)
NOT_COURSE_FILES = shutil.ignore_patterns(
    ".git", ".venv", "data", "build", "checkpoints", "__pycache__", ".pytest_cache", "*.egg-info", ".ipynb_checkpoints"
)
FAKE_DRIVE = '''\
"""Stand-in for google.colab.drive: mounting creates <mountpoint>/MyDrive and is counted."""
from pathlib import Path

MOUNTS = []


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    MOUNTS.append(mountpoint)
    (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)
'''
PROBE = """\
import json, sys
from google.colab import drive as fake_drive
print(json.dumps(dict(module=course.__file__, src_entries=sys.path.count(str(root / "src")),
                      mounts=len(fake_drive.MOUNTS), course_root=os.environ["COURSE_ROOT"])))
"""


def commit_upstream(upstream: Path, message: str) -> str:
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", message)
    git(upstream, "push", "-q", "origin", CONFIG.branch)
    return git(upstream, "rev-parse", "HEAD")


def stdout_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")


def start_kernel(tmp: Path, env: dict) -> KernelManager:
    """A kernel of this interpreter, whatever kernels Jupyter has registered."""
    spec = tmp / "kernels" / "course-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "course test",
                "language": "python",
            }
        )
    )
    return KernelManager(
        kernel_name="course-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)])
    )


def write_fake_colab(folder: Path) -> Path:
    package = folder / "google" / "colab"  # `google` stays a namespace package
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "drive.py").write_text(FAKE_DRIVE)
    return folder


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "KAGGLE_", "PYTHONPATH"))}
    return {**env, **extra}


def run_setup_cell_in_python(cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """The setup cell as a plain script: enough for the failures that happen before the course loads."""
    return subprocess.run(
        [sys.executable, "-c", SETUP_CELL], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """Run the setup cell three times in one simulated-Colab kernel, changing things in between."""
    tmp = tmp_path_factory.mktemp("colab")
    upstream = tmp / "upstream"  # the teacher's working copy
    shutil.copytree(ROOT, upstream, ignore=NOT_COURSE_FILES)
    git(upstream, "init", "-q", "-b", CONFIG.branch)
    remote = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", "-b", CONFIG.branch, str(remote))
    git(upstream, "remote", "add", "origin", remote.as_uri())
    first_commit = commit_upstream(upstream, "Course")

    content = tmp / "content"
    content.mkdir()
    mount = tmp / "drive"
    clone = mount / "MyDrive" / CONFIG.drive_folder
    env = clean_env(
        PYTHONPATH=str(write_fake_colab(tmp / "fake-colab")),
        COURSE_DRIVE_MOUNT=str(mount),
        COURSE_REPO_URL=remote.as_uri(),
    )

    cells = {
        "setup": nbformat.v4.new_code_cell(SETUP_CELL),
        "probe": nbformat.v4.new_code_cell(PROBE),
        "news": nbformat.v4.new_code_cell(f"from {PACKAGE} import news\nprint(news.headline())"),
        "error": nbformat.v4.new_code_cell('raise course.CourseError("no data yet: run the download cell first")'),
    }
    nb = nbformat.v4.new_notebook(cells=list(cells.values()))
    client = NotebookClient(nb, km=start_kernel(tmp, env), timeout=180, resources={"metadata": {"path": str(content)}})
    seen = SimpleNamespace(clone=clone, first_commit=first_commit)

    def run(name):
        cell = cells[name]
        cell.outputs = []
        client.execute_cell(cell, list(cells).index(name))
        return stdout_of(cell)

    with client.setup_kernel(env=env):
        seen.first_setup = run("setup")
        seen.first_head = git(clone, "rev-parse", "HEAD")
        seen.first_probe = json.loads(run("probe"))

        # The teacher publishes new code; meanwhile the student edited a file (not committed).
        news = upstream / "src" / PACKAGE / "news.py"
        news.write_text('def headline():\n    return "from upstream"\n')
        seen.second_commit = commit_upstream(upstream, "Add news")
        with open(clone / "README.md", "a", encoding="utf-8") as readme:
            readme.write("\nmy own notes\n")
        seen.second_setup = run("setup")
        seen.second_head = git(clone, "rev-parse", "HEAD")
        seen.second_probe = json.loads(run("probe"))
        seen.news_before_edit = run("news").strip()

        # The student edits course code: the next cell must use it without a restart.
        student_news = clone / "src" / PACKAGE / "news.py"
        student_news.write_text('def headline():\n    return "edited by the student"\n')
        later = time.time() + 5
        os.utime(student_news, (later, later))
        seen.news_after_edit = run("news").strip()

        # The teacher changes the file the student edited: the update must not overwrite it.
        (upstream / "README.md").write_text("rewritten by the teacher\n")
        commit_upstream(upstream, "Rewrite README")
        seen.third_setup = run("setup")
        seen.third_head = git(clone, "rev-parse", "HEAD")
        seen.third_probe = json.loads(run("probe"))
        seen.readme = (clone / "README.md").read_text(encoding="utf-8")

        # The student commits the edit: the histories diverge, and only a fast-forward is allowed.
        git(clone, "commit", "-q", "-am", "My notes")
        seen.student_commit = git(clone, "rev-parse", "HEAD")
        seen.fourth_setup = run("setup")
        seen.fourth_head = git(clone, "rev-parse", "HEAD")
        seen.clone_status = git(clone, "status", "--porcelain")

        with pytest.raises(CellExecutionError):
            run("error")
        seen.error_outputs = [output for output in cells["error"].outputs if output["output_type"] == "error"]
    return seen


def test_first_run_mounts_drive_and_clones_the_course(colab):
    assert colab.first_head == colab.first_commit
    assert (colab.clone / "pyproject.toml").is_file()
    assert colab.first_probe["mounts"] == 1
    assert Path(colab.first_probe["module"]).is_relative_to(colab.clone / "src"), "the course must load from Drive"
    assert colab.first_probe["course_root"] == str(colab.clone.resolve())


def test_setup_prints_one_status_line_and_installs_nothing(colab):
    lines = colab.first_setup.strip().splitlines()
    assert len(lines) == 1, colab.first_setup
    assert lines[0].startswith("Course ready · colab · ")
    assert f"repo {colab.clone.resolve()}" in lines[0]


def test_rerun_pulls_the_update_and_keeps_uncommitted_edits(colab):
    assert colab.second_head == colab.second_commit
    assert (colab.clone / "src" / PACKAGE / "news.py").is_file()
    assert colab.news_before_edit == "from upstream"
    assert colab.second_setup.strip().splitlines() == colab.first_setup.strip().splitlines()


def test_rerun_mounts_once_and_adds_src_to_sys_path_once(colab):
    for probe in (colab.first_probe, colab.second_probe, colab.third_probe):
        assert probe["src_entries"] == 1
    assert colab.third_probe["mounts"] == 1


def test_edits_to_src_take_effect_without_restart(colab):
    assert colab.news_after_edit == "edited by the student"


def test_update_that_would_overwrite_edits_is_refused_in_one_line(colab):
    assert colab.third_head == colab.second_commit, "the conflicting update must not be applied"
    assert "my own notes" in colab.readme
    refused = [line for line in colab.third_setup.splitlines() if line.startswith("Course not updated")]
    assert len(refused) == 1 and "your copy is kept" in refused[0], colab.third_setup
    assert colab.third_setup.strip().splitlines()[-1].startswith("Course ready · colab · ")


def test_diverged_history_is_never_merged(colab):
    assert colab.fourth_head == colab.student_commit
    assert colab.clone_status == "", "no merge in progress, no conflict markers"
    assert "Course not updated, your copy is kept: fatal: Not possible to fast-forward" in colab.fourth_setup


def test_course_error_shows_as_one_line(colab):
    (error,) = colab.error_outputs
    assert error["ename"] == "CourseError"
    assert len(error["traceback"]) == 1
    assert "no data yet: run the download cell first" in error["traceback"][0]


def test_clone_failure_says_why_in_two_lines(tmp_path):
    env = clean_env(
        PYTHONPATH=str(write_fake_colab(tmp_path / "fake-colab")),
        COURSE_DRIVE_MOUNT=str(tmp_path / "drive"),
        COURSE_REPO_URL=(tmp_path / "no-such-repo.git").as_uri(),
    )
    done = run_setup_cell_in_python(tmp_path, env)
    assert done.returncode == 1
    assert done.stdout.startswith("Could not copy the course: fatal:"), done.stdout
    assert done.stderr.strip().splitlines() == [
        f"No course code in {tmp_path / 'drive' / 'MyDrive' / CONFIG.drive_folder}: see git's message above"
    ]


def test_wrong_course_root_is_one_line(tmp_path):
    done = run_setup_cell_in_python(tmp_path, clean_env(COURSE_ROOT=str(tmp_path / "elsewhere")))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"No course code in {tmp_path / 'elsewhere'}: open the notebook inside the course folder, or set COURSE_ROOT to it"
    ]
