"""Exercises that check themselves, on otter-grader: the teacher writes each exercise in its lesson
with otter's markers (``# BEGIN QUESTION``, ``# BEGIN SOLUTION``, ``# BEGIN TESTS``, ``# HIDDEN``).

``questions`` reads those markers, ``assign`` writes the student versions (`course assign`: no
solution, public tests only; hidden tests only under ``build/grading/``), ``leaks`` is what
`course check` asks of them, ``grade`` grades returned notebooks with the hidden tests (`course
grade`), ``untouched`` proves each exercise fails on ``...``, ``commands`` holds the commands. A
student's lesson calls the course's ``exercises.checks`` once; its check cells then run that lesson's
public tests, from the folder ``public_tests`` names.
"""

from __future__ import annotations

from pathlib import Path

STUDENT_FOLDER = "student"  # student/lessons/<lesson>.ipynb and student/tests/<lesson>/<question>.py


def opened_folder(lesson: Path) -> str:
    """Where students open ``lesson`` (the badge, the website's link): its student version when it has one."""
    student = lesson.parent.parent / STUDENT_FOLDER / "lessons" / lesson.name
    return f"{STUDENT_FOLDER}/lessons" if student.is_file() else "lessons"


def public_tests(root: Path, lesson: str) -> Path:
    """Where a lesson's public tests are; the course's ``exercises.checks`` reads them from there."""
    return root / STUDENT_FOLDER / "tests" / lesson


def require_otter(command: str) -> None:
    """``course assign`` and ``course grade`` run otter-grader: without it, one line naming the extra to install."""
    import importlib.util

    from ..errors import CourseError

    try:
        found = importlib.util.find_spec("otter") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise CourseError(
            f'{command} needs otter-grader, which is not installed here: pip install -e ".[exercises]" '
            "(the course's [exercises] extra), then run it again"
        )
