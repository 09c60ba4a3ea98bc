"""Exercises that check themselves, on otter-grader: the teacher writes each exercise in its lesson
with otter's markers (``# BEGIN QUESTION``, ``# BEGIN SOLUTION``, ``# BEGIN TESTS``, ``# HIDDEN``).

``questions`` reads those markers, ``assign`` writes the student versions (`course assign`: no
solution, public tests only; hidden tests only under ``build/grading/``), ``leaks`` is what
`course check` asks of them, ``grade`` grades returned notebooks with the hidden tests (`course
grade`), ``untouched`` proves each exercise fails on ``...``, ``commands`` holds the commands. A
student's lesson calls ``checks`` below once; its check cells then run that lesson's public tests.
"""

from __future__ import annotations

from pathlib import Path

STUDENT_FOLDER = "student"  # student/lessons/<lesson>.ipynb and student/tests/<lesson>/<question>.py


def opened_folder(lesson: Path) -> str:
    """Where students open ``lesson`` (the badge, the website's link): its student version when it has one."""
    student = lesson.parent.parent / STUDENT_FOLDER / "lessons" / lesson.name
    return f"{STUDENT_FOLDER}/lessons" if student.is_file() else "lessons"


def public_tests(root: Path, lesson: str) -> Path:
    return root / STUDENT_FOLDER / "tests" / lesson


def checks(lesson: str):
    """The grader a student version's check cells call (``grader.check("accuracy")``): otter's
    ``Notebook``, reading the public tests of ``lesson`` from the course folder, so a renamed or
    copied notebook (Drive's ``01_first_model (1).ipynb``) checks the same. In Colab and Kaggle the
    ``[exercises]`` extra (otter-grader) is installed here the first time, pinning what the runtime has,
    as the setup cell installs the course's requirements: a lesson without exercises never installs it."""
    import os

    from ..config import find_root
    from ..environment import runtime
    from ..installer import install_missing

    root = Path(os.environ.get("COURSE_ROOT") or find_root())
    if runtime() in ("colab", "kaggle"):
        install_missing(root, extra="exercises")
    import otter

    return otter.Notebook(tests_dir=str(public_tests(root, lesson)))
