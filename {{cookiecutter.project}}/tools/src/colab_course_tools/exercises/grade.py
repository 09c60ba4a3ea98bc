"""`course grade SUBMISSIONS`: returned notebooks graded with every test, hidden ones included.

A submission is untrusted code. Each runs through the harness (its own worker and kernel, the
lesson's time limits, the output cap, every process it started killed at the end) in a fresh
temporary folder with a HOME of its own, every cell allowed to fail so a broken answer costs only
its own question. A last cell, added here, runs the grading tests (``assign.grading_tests``) with
otter and prints their results as one JSON line after a marker made for this run. Nothing is
unpickled. A submission that cannot be read, or whose lesson is not known, gets a row that says why.

What this does not isolate, the README says: the network, and the files the user can read or write.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import drive, notebooks
from ..atomic import write_text
from ..errors import CourseError
from ..formatting import write_csv
from ..harness.job import LessonJob, LessonResult
from .assign import grading_tests

GRADING_CELL = """\
import json as _json, pathlib as _pathlib
from otter.test_files.exception_test import ExceptionTestFile as _TestFile
_results = []
for _path in sorted(_pathlib.Path({tests!r}).glob("*.py")):
    _test = _TestFile.from_file(str(_path))
    try:
        _test.run(globals())
    except Exception as _error:
        _results.append({{"question": _test.name, "points": 0, "max": _test.possible, "failed": [str(_error)]}})
        continue
    _failed = [
        ("hidden test" if _r.test_case.hidden else (_r.message or "public test")).strip().splitlines()[-1]
        for _r in _test.test_case_results if not _r.passed
    ]
    _results.append({{"question": _test.name, "points": _test.score, "max": _test.possible, "failed": _failed}})
print({marker!r} + _json.dumps(_results))
"""


@dataclass
class Graded:
    """One submission's rows: a question each, or one row saying why it was not graded."""

    submission: str
    lesson: str | None = None
    questions: list[dict] = field(default_factory=list)
    reason: str = ""


def submissions_in(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise CourseError(f"{path}: no such file or folder; give the returned notebooks or the folder holding them")
    return found


def lesson_of(notebook: dict, path: Path, known: set[str]) -> str | None:
    """The lesson a submission answers: the student version's metadata, else its (Drive-renamed) file name."""
    stamped = (notebook.get("metadata", {}).get("course") or {}).get("lesson")
    if stamped in known:
        return stamped
    original = drive.original_of(path)
    stem = (original or path).stem
    return stem if stem in known else None


def prepare(
    root: Path, path: Path, number: int, scratch: Path, known: set[str], parameters, *, tolerant: bool = True
) -> tuple[Graded, LessonJob | None, str]:
    """The job that grades one submission, in its own folder under ``scratch``; or its row saying why not.
    ``tolerant``: every cell may fail (a returned notebook); without it the first error stops the run (an
    untouched student version, which must run to its end)."""
    graded = Graded(path.name)
    try:
        notebook = notebooks.read_notebook(path)
    except notebooks.NotebookError as error:
        graded.reason = f"not a readable notebook ({error.reason})"
        return graded, None, ""
    graded.lesson = lesson_of(notebook, path, known)
    if graded.lesson is None:
        graded.reason = f"no lesson with exercises matches it (known: {', '.join(sorted(known))})"
        return graded, None, ""
    marker = f"course-grade-{secrets.token_hex(8)}:"
    for cell in notebooks.cells(notebook) if tolerant else []:
        if cell["cell_type"] == "code" and not notebooks.has_tag(cell, notebooks.RAISES_TAG):
            cell.setdefault("metadata", {})["tags"] = [*notebooks.tags(cell), notebooks.RAISES_TAG]
    tests = str(grading_tests(root, graded.lesson))
    notebook["cells"].append(notebooks.code_cell(GRADING_CELL.format(tests=tests, marker=marker), id="course-grading"))
    folder = scratch / f"{number:03d}"
    for private in ("home", "tmp"):
        (folder / private).mkdir(parents=True)
    work = folder / "work" / f"submission_{number:03d}.ipynb"
    notebooks.write_notebook(work, notebook)
    env = {"HOME": str(folder / "home"), "COURSE_ROOT": str(root), "TMPDIR": str(folder / "tmp")}
    job = LessonJob(work, folder / "executed.ipynb", parameters(graded.lesson), env=env)
    return graded, job, marker


def read_grades(graded: Graded, result: LessonResult, executed: Path, marker: str, expected: list[str]) -> None:
    """The grading cell's line from the executed submission; without it every question scores 0."""
    try:
        text = executed.read_text(encoding="utf-8", errors="replace")
        cell = notebooks.cells(json.loads(text))[-1]
        printed = "".join(
            "".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream"
        )
        line = next(line for line in printed.splitlines() if line.startswith(marker))
        graded.questions = json.loads(line[len(marker) :])
    except (OSError, ValueError, IndexError, StopIteration):
        not_graded(graded, result.failure() if not result.ok else "the grading cell printed no result", expected)


def not_graded(graded: Graded, why: str, expected: list[str]) -> None:
    """Every question of the submission at 0 points, with the reason."""
    graded.reason = f"not graded: {why}"
    graded.questions = [{"question": name, "points": 0, "max": None, "failed": [why]} for name in expected]


def write_outputs(build: Path, rows: list[Graded]) -> Path:
    """``build/grades.csv`` and ``build/feedback/<submission>.md``; returns the CSV."""
    lines = []
    for graded in rows:
        if not graded.questions:
            lines.append({"submission": graded.submission, "question": "", "points": 0, "reason": graded.reason})
        for question in graded.questions:
            lines.append({"submission": graded.submission, **question, "reason": graded.reason})
        write_text(build / "feedback" / f"{graded.submission}.md", feedback(graded))
    target = build / "grades.csv"
    write_csv(target, ["submission", "question", "points", "max", "reason"], lines)
    return target


def feedback(graded: Graded) -> str:
    lines = [f"# {graded.submission}", ""]
    if graded.reason:
        lines += [graded.reason, ""]
    for question in graded.questions:
        lines.append(f"- **{question['question']}**: {question['points']} / {question['max']}")
        lines += [f"  - {failed}" for failed in question.get("failed", [])]
    return "\n".join(lines) + "\n"


def status_line(graded: Graded) -> str:
    if graded.reason and not graded.questions:
        return f"{graded.submission}: {graded.reason}"
    points = sum(question["points"] or 0 for question in graded.questions)
    most = sum(question["max"] or 0 for question in graded.questions)
    return f"{graded.submission}: {points:g} / {most:g}" + (f" ({graded.reason})" if graded.reason else "")


def scratch_folder():
    """Where submissions run; removed afterwards, whatever they left in it."""
    return tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True)
