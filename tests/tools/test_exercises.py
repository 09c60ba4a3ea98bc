"""Exercises on otter-grader: `course assign` writes student versions with no solution and no hidden
test, `course check` finds a stale or leaking one, `course grade` grades returned notebooks as the
untrusted code they are. Real otter, real kernels, real signals.

Without otter-grader these tests skip with the reason, except in CI (``CI=true``), where they fail.
"""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from colab_course_tools.harness.processes import alive
from colab_course_tools.testing import (
    ACCURACY_SOLUTION,
    HIDDEN_TEST,
    answered,
    course_cli,
    course_env,
    exercise_lesson,
    git,
    tiny_course,
    wait_for,
)
from course_under_test import PACKAGE, ROOT, TOOLS

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
RIGHT = {"accuracy": ACCURACY_SOLUTION, "total": "total = int(cm.sum())"}


@pytest.fixture
def course(tmp_path):
    if importlib.util.find_spec("otter") is None:
        message = "otter-grader is not installed (.[exercises])"
        pytest.fail(f"{message} (CI must run the exercise tests)") if IN_CI else pytest.skip(message)
    root = tiny_course(tmp_path / "course", {"00_exercises": exercise_lesson()})
    assigned = course_cli("assign", cwd=root)
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    return root


def busy_kernel(ancestor: int) -> int | None:
    """A kernel below ``ancestor`` (inside its sandbox) that has spent over a second of CPU: one that loops."""
    import psutil

    for process in psutil.Process(ancestor).children(recursive=True):
        try:
            line = process.cmdline()
            if line and "bwrap" not in line[0] and "ipykernel_launcher" in line and process.cpu_times().user > 1:
                return process.pid
        except psutil.Error:
            continue
    return None


def grades(root: Path) -> dict:
    with open(root / "build" / "grades.csv", newline="", encoding="utf-8") as rows:
        return {(row["submission"], row["question"]): row for row in csv.DictReader(rows)}


def test_assign_writes_a_student_version_without_solutions_and_check_finds_stale_and_leaking_ones(course):
    student = course / "student" / "lessons" / "00_exercises.ipynb"
    text = student.read_text()
    assert "accuracy = ..." in text and "total = ..." in text and 'grader.check(\\"accuracy\\")' in text
    assert ACCURACY_SOLUTION not in text and "test_value" not in text
    public = {path.name: path.read_text() for path in (course / "student" / "tests" / "00_exercises").iterdir()}
    assert set(public) == {"accuracy.py", "total.py", "hidden-tests.json"} and "test_share" in public["accuracy.py"]
    assert not any("test_value" in body or "test_total" in body for body in public.values())
    assert "def test_value" in (course / "build" / "grading" / "00_exercises" / "accuracy.py").read_text()
    before = {path: path.read_bytes() for path in (course / "student").rglob("*") if path.is_file()}
    assert course_cli("assign", cwd=course).returncode == 0  # a rerun changes nothing
    assert before == {path: path.read_bytes() for path in (course / "student").rglob("*") if path.is_file()}
    assert "student/" not in course_cli("check", cwd=course).stdout  # (a tiny course has other problems)

    lesson = course / "lessons" / "00_exercises.ipynb"
    notebook = json.loads(lesson.read_text())
    notebook["cells"][2]["source"] = "**Exercise 1.** Reworded."
    lesson.write_text(json.dumps(notebook, indent=1) + "\n")
    student.write_text(text.replace("accuracy = ...", ACCURACY_SOLUTION))
    (course / "student" / "tests" / "00_exercises" / "extra.py").write_text(HIDDEN_TEST + "\n")
    checked = course_cli("check", cwd=course)
    assert "student/lessons/00_exercises.ipynb: stale: 00_exercises.ipynb changed" in checked.stdout
    assert (
        f"student/lessons/00_exercises.ipynb: holds solution or hidden-test text of 00_exercises.ipynb: {ACCURACY_SOLUTION!r}"
        in checked.stdout
    )
    assert "student/tests/00_exercises/extra.py: holds solution or hidden-test text" in checked.stdout
    course_cli("sync", cwd=course)  # writes the stale student version again (otter-grader is here)
    assert "stale" not in course_cli("check", cwd=course).stdout
    assert course_cli("assign", cwd=course).returncode == 0
    assert "student/" not in course_cli("check", cwd=course).stdout


@pytest.mark.parametrize(
    "answer, shown",
    [
        ("accuracy = 2.5", "AssertionError: not a share: 2.5"),
        ("accuracy = 0.5", "accuracy results: All test cases passed!"),  # public tests only: 0.5 passes them
    ],
)
def test_a_check_cell_in_a_renamed_copy_shows_its_tests_result_and_message(
    course, tmp_path, monkeypatch, answer, shown
):
    """A student's copy renamed by Drive, in another folder, checked by a real kernel."""
    import nbformat
    from nbclient import NotebookClient

    copy = answered(
        course / "student" / "lessons" / "00_exercises.ipynb",
        tmp_path / "drive" / "00_exercises (1).ipynb",
        {"accuracy": answer},
    )
    notebook = nbformat.read(copy, as_version=4)
    monkeypatch.setenv("COURSE_ROOT", str(course))  # as the setup cell sets it
    monkeypatch.setenv("PYTHONPATH", course_env()["PYTHONPATH"])
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(copy.parent)}}).execute()
    (check,) = [cell for cell in notebook.cells if 'grader.check("accuracy")' in cell.source]
    assert shown in check.outputs[0]["data"]["text/plain"]


def test_grade_gives_each_submission_its_own_points_whatever_the_others_do(course, tmp_path):
    student = course / "student" / "lessons" / "00_exercises.ipynb"
    returned = tmp_path / "returned"
    answered(student, returned / "right.ipynb", RIGHT)
    answered(student, returned / "partial.ipynb", {"accuracy": "accuracy = 0.5", "total": RIGHT["total"]})
    for name in ("00_exercises (1).ipynb", "my answers.ipynb"):  # copies that lost the lesson's stamp
        renamed = answered(student, returned / name, RIGHT)
        notebook = json.loads(renamed.read_text())
        notebook["metadata"].pop("course")
        renamed.write_text(json.dumps(notebook))
    wipe = "import os, shutil; shutil.rmtree(os.path.expanduser('~'), ignore_errors=True)\n" + ACCURACY_SOLUTION
    answered(student, returned / "hostile.ipynb", {"accuracy": wipe, "total": RIGHT["total"]})
    answered(student, returned / "endless.ipynb", {"accuracy": ACCURACY_SOLUTION, "total": "while True: pass"})
    (returned / "corrupt.ipynb").write_text("{not json")
    (returned / "answers.txt").write_text("accuracy = 13 / 16")  # returned in the wrong form
    home = tmp_path / "home"
    (home / "keep").mkdir(parents=True)
    (home / "keep" / "thesis.txt").write_text("years of work")

    graded = course_cli(
        "grade", returned, "-n", "2", "-q", "--cell-timeout", "5", cwd=course, env=course_env(HOME=str(home))
    )
    assert graded.returncode == 0, graded.stdout + graded.stderr
    rows = grades(course)
    points = {key: float(row["points"]) for key, row in rows.items() if row["question"]}
    assert points[("right.ipynb", "accuracy")] == 2 and points[("right.ipynb", "total")] == 1
    assert points[("partial.ipynb", "accuracy")] == 1 and points[("partial.ipynb", "total")] == 1  # public only
    assert points[("00_exercises (1).ipynb", "accuracy")] == 2  # Drive's name for a copy still names the lesson
    assert points[("hostile.ipynb", "accuracy")] == 2 and points[("hostile.ipynb", "total")] == 1
    assert points[("endless.ipynb", "accuracy")] == 2 and points[("endless.ipynb", "total")] == 0
    assert "no lesson with exercises matches it" in rows[("my answers.ipynb", "")]["reason"]
    assert rows[("corrupt.ipynb", "")]["reason"].startswith("not a readable notebook (not valid JSON")
    assert rows[("answers.txt", "")]["reason"] == "not a notebook (a .txt): return the lesson's .ipynb"
    assert (home / "keep" / "thesis.txt").read_text() == "years of work"
    feedback = (course / "build" / "feedback" / "partial.ipynb.md").read_text()
    assert "**accuracy**: 1.0 / 2.0" in feedback and "hidden test" in feedback and "13 / 16" not in feedback
    assert "right.ipynb: 3 / 3" in graded.stdout


def test_ctrl_c_stops_grading_writes_what_it_has_and_leaves_no_process(course, tmp_path):
    student = course / "student" / "lessons" / "00_exercises.ipynb"
    returned = tmp_path / "returned"
    answered(student, returned / "a_endless.ipynb", {"accuracy": "while True: pass"})
    answered(student, returned / "b_queued.ipynb", RIGHT)
    grading = subprocess.Popen(
        [sys.executable, "-m", TOOLS, "grade", str(returned), "-q", "--cell-timeout", "300"],
        cwd=course,
        env=course_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:  # the sealed kernel writes nothing of ours: it is known from outside, by the CPU its loop burns
        wait_for(lambda: busy_kernel(grading.pid), 90, "the endless submission to start")
        kernel = busy_kernel(grading.pid)
        os.killpg(grading.pid, signal.SIGINT)
        output, _ = grading.communicate(timeout=60)
    finally:
        grading.kill()
    assert grading.returncode == 130, output
    assert "course grade: stopped by SIGINT" in output
    rows = grades(course)
    assert "not graded: interrupted by SIGINT" in rows[("a_endless.ipynb", "accuracy")]["reason"]
    assert not alive(kernel)


def test_the_course_lessons_exercises_pass_as_teacher_and_fail_untouched_in_a_renamed_copy(
    tmp_path, course_cli, mnist_sample_server
):
    """The shipped student versions are current; each untouched (lesson 01's renamed as Drive renames it)
    runs to the end with its checks failing (no uncaught exception); the teacher's answers get full points.
    (The teacher's versions, hidden tests included, pass in test_lessons.py.)"""
    if importlib.util.find_spec("otter") is None:
        message = "otter-grader is not installed (.[exercises])"
        pytest.fail(f"{message} (CI must run the exercise tests)") if IN_CI else pytest.skip(message)
    import shutil

    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", ".venv", "build", "data", "checkpoints"))
    before = {path: path.read_bytes() for path in (course / "student").rglob("*") if path.is_file()}
    assert course_cli("assign", cwd=course).returncode == 0
    assert before == {path: path.read_bytes() for path in (course / "student").rglob("*") if path.is_file()}

    student = course / "student" / "lessons" / "01_first_model.ipynb"
    returned = tmp_path / "returned"
    shutil.copy(student, returned.mkdir() or returned / "01_first_model (1).ipynb")
    answered(student, returned / "right.ipynb", teachers_answers(course / "lessons" / "01_first_model.ipynb"))
    graded = course_cli("grade", returned, "-n", "2", "-q", cwd=course, timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "right.ipynb: 4 / 4" in graded.stdout and "01_first_model (1).ipynb: 0 / 4" in graded.stdout
    data = ["-p", "data_url", mnist_sample_server.url, "-p", "data_sha256", mnist_sample_server.sha256]
    proved = course_cli("grade", "--untouched", "-n", "2", "-q", *data, cwd=course, timeout=900)
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert "every exercise fails on its untouched student version, which runs to its end" in proved.stdout


def test_an_exercise_that_passes_untouched_is_named_as_asserting_nothing(course):
    proved = course_cli("grade", "--untouched", "-q", cwd=course)
    assert proved.returncode == 0, proved.stdout + proved.stderr
    lesson = course / "lessons" / "00_exercises.ipynb"
    lesson.write_text(lesson.read_text().replace("assert total == 16", "assert total is not None"))
    assert course_cli("assign", cwd=course).returncode == 0
    proved = course_cli("grade", "--untouched", "-q", cwd=course)
    assert proved.returncode == 1
    assert (
        "00_exercises.ipynb: exercise 'total' asserts nothing: its tests pass on the untouched student version"
        in proved.stdout
    )
    checked = course_cli("check", cwd=course)
    assert "lessons/00_exercises.ipynb: exercise 'total' asserts nothing" in checked.stdout
    lesson.write_text(lesson.read_text().replace("assert total is not None", "assert total == 16"))
    assert "asserts nothing" not in course_cli("check", cwd=course).stdout  # the lesson changed since


def test_new_starts_a_lesson_with_an_exercise_that_assign_turns_into_a_student_version(course):
    (course / "README.md").write_text("# Tiny\n\n<!-- lessons:start -->\n<!-- lessons:end -->\n")
    created = course_cli("new", "Quiz", "--exercise", cwd=course)
    assert created.returncode == 0, created.stderr
    assert "exercise skeleton" in created.stdout
    assert course_cli("assign", cwd=course).returncode == 0
    student = (course / "student" / "lessons" / "01_quiz.ipynb").read_text()
    assert "answer = ..." in student and "answer = 42" not in student and 'grader.check(\\"answer\\")' in student
    assert "test_value" in (course / "build" / "grading" / "01_quiz" / "answer.py").read_text()


def test_a_private_teachers_course_publishes_a_student_course_whose_history_holds_no_solution(tmp_path, course_cli):
    """The teacher's repository stays private; `course student-course` fills a clone of the public one
    (a real git remote over file://), twice, and nothing in that repository's history is a solution or
    a hidden test, while its lessons, setup cells and badges are the student course's own."""
    import shutil

    from colab_course_tools.exercises.leaks import secrets_of

    teacher = tmp_path / "teacher"
    shutil.copytree(ROOT, teacher, ignore=shutil.ignore_patterns(".git", ".venv", "build", "data", "checkpoints"))
    git(teacher, "init", "-q")
    git(teacher, "add", "-A")
    git(teacher, "commit", "-q", "-m", "course")
    remote = tmp_path / "student.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    work = tmp_path / "student-work"
    git(tmp_path, "clone", "-q", remote.as_uri(), str(work))

    def publish(message):
        made = course_cli("student-course", work, "--repo", "someone/ml-students", cwd=teacher)
        assert made.returncode == 0, made.stdout + made.stderr
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message)
        git(work, "push", "-q", "origin", "HEAD:main")

    publish("first")
    lesson = teacher / "lessons" / "01_first_model.ipynb"
    lesson.write_text(lesson.read_text().replace("Compute the **accuracy**", "Compute the **accuracy** (again)"))
    refused = course_cli("student-course", work, "--repo", "someone/ml-students", cwd=teacher)
    assert refused.returncode == 1 and "stale" in refused.stderr and "course assign" in refused.stderr
    assert course_cli("assign", cwd=teacher).returncode == 0
    git(teacher, "commit", "-q", "-am", "reworded")
    publish("second")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", remote.as_uri(), str(clone))
    history = git(clone, "log", "--all", "-p", "--format=%H")
    secrets = secrets_of(notebooks_of(teacher))
    assert len(secrets) > 8 and not [line for line in secrets if line in history or line.replace('"', '\\"') in history]
    published = (clone / "lessons" / "01_first_model.ipynb").read_text()
    assert (
        "accuracy_from_matrix = ..." in published
        and "(again)" in published
        and not (clone / "student" / "lessons").exists()
    )
    assert "https://github.com/someone/ml-students.git" in published  # its setup cell clones the student course
    readme = (clone / "README.md").read_text()
    assert "colab.research.google.com/github/someone/ml-students/blob/main/lessons/01_first_model.ipynb" in readme
    assert (clone / "student" / "tests" / "01_first_model" / "accuracy_from_matrix.py").is_file()
    assert not [name for name in ("tools", "tests", ".github") if (clone / name).exists()]  # the teacher's only
    assert (clone / "src").is_dir() and (clone / "pyproject.toml").is_file()
    assert course_cli("check", cwd=clone).returncode == 0


def teachers_answers(lesson: Path) -> dict[str, str]:
    """``{name: "name = <the solution>"}`` read from the teacher's lesson, so no solution is written here
    (this file goes to the student course too)."""
    from colab_course_tools import notebooks
    from colab_course_tools.exercises.questions import read_exercises

    lines = read_exercises(notebooks.read_notebook(lesson)).solution_lines
    return {line.split("=")[0].strip(): line.strip() for line in lines if "=" in line}


def notebooks_of(course):
    return sorted((course / "lessons").glob("*.ipynb"))


NO_OTTER = """import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "otter":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, _NotInstalled())
"""


def test_without_otter_assign_and_grade_name_the_extra_to_install(tmp_path):
    """What a teacher met without the [exercises] extra: `No module named otter`. An import hook hides
    otter-grader from the commands as an environment without it would."""
    root = tiny_course(tmp_path / "course", {"00_exercises": exercise_lesson()})
    hook = tmp_path / "no-otter"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(NO_OTTER, encoding="utf-8")
    env = course_env()
    env["PYTHONPATH"] = os.pathsep.join([str(hook), env["PYTHONPATH"]])
    for args in (["assign"], ["grade", "--untouched"]):
        done = subprocess.run(
            [sys.executable, "-m", TOOLS, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert f"course {args[0]} needs otter-grader" in done.stderr
        assert 'pip install -e ".[exercises]"' in done.stderr
    assert not (root / "student").exists() and not (root / "build").exists()


def test_a_check_says_the_hidden_tests_that_grading_adds_and_what_they_are_worth(course):
    """Students read otter's "All test cases passed!" as their grade (ucbds-infra/otter-grader#138): a check
    says that these were the public tests, how many more grading runs, and for how many points."""
    assert json.loads((course / "student" / "tests" / "00_exercises" / "hidden-tests.json").read_text()) == {
        "accuracy": 1,
        "total": 1,
    }
    code = (
        f"import {PACKAGE} as course\n"
        "grader = course.exercises.checks('00_exercises')\n"
        "accuracy = 13 / 16\n"
        "print(repr(grader.check('accuracy')))\n"
        "print(grader.check('accuracy')._repr_html_()[-120:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=course, env=course_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accuracy results: All test cases passed!" in done.stdout
    note = "These are the public tests: grading runs 1 more test, hidden; the question is worth 2 points."
    assert note in done.stdout and f"<p>{note}</p>" in done.stdout
