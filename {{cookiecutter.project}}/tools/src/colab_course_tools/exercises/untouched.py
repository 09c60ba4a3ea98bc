"""`course grade --untouched`: the student versions graded as returned untouched, their ``...`` left in.

Each must run to its end, and every one of its questions must score 0: an exercise whose tests pass
on ``...`` asserts nothing. The results are kept in ``build/grading/untouched.json`` with the lesson
they were made from, so `course check` names such an exercise until the lesson changes.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import read_json, write_json
from .assign import source_digest


def results_file(root: Path) -> Path:
    return root / "build" / "grading" / "untouched.json"


def record(root: Path, rows: list) -> list[str]:
    """Keep what grading the untouched student versions found; returns each problem as a line."""
    found, problems = {}, []
    for graded in rows:
        passing = [question["question"] for question in graded.questions if question["points"]]
        lesson = root / "lessons" / f"{graded.lesson}.ipynb"
        found[graded.lesson] = {"from_sha256": source_digest(lesson), "passing": passing, "reason": graded.reason}
        if graded.reason:
            problems.append(
                f"{graded.submission}: the untouched student version did not run to its end: {graded.reason}"
            )
        problems += [f"{graded.submission}: exercise {name!r} {NOTHING}" for name in passing]
    write_json(results_file(root), found)
    return problems


NOTHING = "asserts nothing: its tests pass on the untouched student version; make them fail on `...`"


def problems(root: Path, lessons: list[Path]) -> list[tuple[str, str]]:
    """``(lesson, message)`` for each exercise that passed untouched when its lesson was as it is now."""
    found = read_json(results_file(root))
    named = []
    for lesson in lessons:
        entry = found.get(lesson.stem)
        if isinstance(entry, dict) and entry.get("from_sha256") == source_digest(lesson):
            named += [(f"lessons/{lesson.name}", f"exercise {name!r} {NOTHING}") for name in entry.get("passing", [])]
    return named
