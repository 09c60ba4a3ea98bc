"""What `course check` asks of the exercises: every student version made from the lesson as it is now,
no solution or hidden test anywhere under ``student/`` (what students receive), and no exercise that
passed untouched (``untouched``). ``leaks`` also checks a whole student course before it is published
(``authoring.student_course``)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import notebooks
from . import STUDENT_FOLDER, untouched
from .assign import source_digest, student_lesson
from .questions import Exercises, read_exercises


def _exercises_of(lessons: list[Path]) -> dict[Path, Exercises]:
    """Each readable lesson's exercises (an unreadable one is reported by the notebook checks)."""
    found = {}
    for lesson in lessons:
        try:
            found[lesson] = read_exercises(notebooks.read_notebook(lesson))
        except notebooks.NotebookError:
            continue
    return found


def secrets_of(lessons: list[Path]) -> dict[str, str]:
    """Each line no student may receive, with the name of the lesson it comes from."""
    return _secrets(_exercises_of(lessons))


def _secrets(exercises: dict[Path, Exercises]) -> dict[str, str]:
    return {line: lesson.name for lesson, found in exercises.items() for line in found.secret_lines()}


def leaks(folder: Path, secrets: dict[str, str]) -> list[tuple[Path, str, str]]:
    """``(file, line, lesson)``: the first secret line found in each file under ``folder`` (in a notebook's
    JSON too, where quotes and backslashes are escaped)."""
    found = []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if not path.is_file() or ".git" in path.relative_to(folder).parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for line, lesson in secrets.items():
            if line in text or json.dumps(line)[1:-1] in text:
                found.append((path, line, lesson))
                break
    return found


def exercise_problems(root: Path, lessons: list[Path]) -> list[tuple[str, str]]:
    """``(path, what is wrong)`` for each stale or missing student version and each leak; the fix of
    all of them is `course assign` (or removing the text from the teacher's lesson's public parts)."""
    problems, exercises = [], _exercises_of(lessons)
    for lesson, found in exercises.items():
        if not found.questions:
            continue
        student = student_lesson(root, lesson.stem)
        where = student.relative_to(root).as_posix()
        if not student.is_file():
            problems.append((where, f"missing: {lesson.name} has exercises but no student version"))
            continue
        try:
            made_from = notebooks.read_notebook(student).get("metadata", {}).get("course", {}).get("from_sha256")
        except notebooks.NotebookError as error:
            problems.append((where, f"unreadable student version ({error.reason})"))
            continue
        if made_from != source_digest(lesson):
            problems.append((where, f"stale: {lesson.name} changed since its student version was written"))
    for path, line, lesson in leaks(root / STUDENT_FOLDER, _secrets(exercises)):
        problems.append(
            (path.relative_to(root).as_posix(), f"holds solution or hidden-test text of {lesson}: {line!r}")
        )
    return problems + untouched.problems(root, lessons)
