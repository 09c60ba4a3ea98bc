"""Lessons sharded as CI's matrix runs them: each shard its own process and build folder, then one
`course report merge`, compared with a single run of every lesson (a real bake, real kernels)."""

import json
import shutil

from colab_course_tools.testing import course_cli, write_notebook
from conftest import import_path, tool_env

LESSONS = {
    "00_one": "print('one')",
    "01_two": "import time; time.sleep(1)",
    "02_three": "x = 3",
    "03_fails": "raise ValueError('a lesson that fails')",
    "04_five": "x = 5",
}


def course_with_quick_lessons(bake, tmp_path):
    """The default course with five quick lessons (one failing) instead of its own."""
    course = bake(init_git="no")
    shutil.rmtree(course / "lessons")
    shutil.rmtree(course / "student")
    for name, code in LESSONS.items():
        write_notebook(course / "lessons" / f"{name}.ipynb", ("md", f"# {name}"), code)
    (course / "lesson-durations.json").write_text(json.dumps({"01_two": 9.0, "02_three": 4.0, "04_five": 4.5}))
    return course


def statuses(build):
    report = json.loads((build / "report.json").read_text())
    return {row["lesson"]: row["status"] for row in report["lessons"]}


def test_shards_run_apart_merge_into_the_report_of_one_run(bake, tmp_path):
    course = course_with_quick_lessons(bake, tmp_path)
    env = {**tool_env(tmp_path), "PYTHONPATH": import_path(course)}
    plan = course_cli("test", "--plan", "2", cwd=course, env=env)
    assert plan.stdout.splitlines() == [
        "shard 1/2: 9.0 s expected + 1 never timed: 00_one, 01_two",
        "shard 2/2: 8.5 s expected + 1 never timed: 02_three, 03_fails, 04_five",
    ]
    whole = tmp_path / "whole"
    shutil.copytree(course, whole)
    assert course_cli("test", "-n", "2", "-q", cwd=whole, env=env).returncode == 1  # 03_fails fails

    shard_builds = []
    for index in (1, 2):
        runner = tmp_path / f"runner-{index}"  # a CI job: its own checkout, its own build/
        shutil.copytree(course, runner)
        ran = course_cli("test", "--shard", f"{index}/2", "-q", cwd=runner, env=env)
        assert ran.returncode == (1 if index == 2 else 0), ran.stdout + ran.stderr
        shard_builds.append(runner / "build")

    merged = course_cli("report", "merge", *shard_builds, cwd=course, env=env)
    assert merged.returncode == 1
    assert merged.stderr.strip() == f"course report merge: {shard_builds[1]}: its shard failed (03_fails)"
    assert statuses(course / "build") == statuses(whole / "build")
    assert list(statuses(course / "build")) == list(LESSONS)
    assert sorted(p.stem for p in (course / "build" / "executed").glob("*.ipynb")) == sorted(LESSONS)
    report = (course / "build" / "report.md").read_text()
    assert "5 lessons: 4 passed, 1 failed" in report and "earlier run" not in report

    never = tmp_path / "never-reported"
    never.mkdir()
    lost = course_cli("report", "merge", shard_builds[0], never, cwd=course, env=env)
    assert lost.returncode == 1
    assert f"{never}: no readable report.json: that shard never reported" in lost.stderr
    for name in ("02_three", "03_fails", "04_five"):
        assert f"{name} is in no shard's report" in lost.stderr
    twice = course_cli("report", "merge", shard_builds[0], shard_builds[0], shard_builds[1], cwd=course, env=env)
    assert f"00_one is in two shards: {shard_builds[0]} and {shard_builds[0]}" in twice.stderr
