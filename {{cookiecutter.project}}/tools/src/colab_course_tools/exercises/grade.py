"""`course grade SUBMISSIONS`: returned notebooks graded with every test, hidden ones included.

A submission is untrusted code. Each runs through the harness (its own worker and kernel, time limits
that follow from the lesson's recorded duration, the output cap, every process it started killed at the
end), its kernel sealed by bubblewrap (``harness.sandbox``: no network, no variable or file of the
grader's, a size-capped folder of its own), every cell allowed to fail so a broken answer costs only its
own question. The hidden tests enter the kernel only in the last cell, added here, after the
submission's own cells have run: that cell runs them with otter and prints the results as one JSON line
after a marker made for this run. A first cell, added here too, notes the grading machinery (otter's
test runner, the builtins and output it uses) before the submission runs; a submission that replaced
any of it gets no points and is flagged. Nothing is unpickled. A submission that cannot be read, or whose
lesson is not known, gets a row that says why.
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
from ..harness.sandbox import Seal
from .assign import grading_tests

# Before the submission runs: what grades it, as it is now. ``tampered()`` later names whatever was replaced.
SEAL_CELL = """\
def _course_grading_seal():
    import builtins, json, sys
    from otter.test_files import abstract_test, exception_test

    def machinery():
        return {
            **{name: getattr(builtins, name) for name in ("print", "exec", "compile", "isinstance", "getattr", "sorted")},
            "json.dumps": json.dumps,
            "ExceptionTestFile": exception_test.ExceptionTestFile,
            "ExceptionTestFile.run": exception_test.ExceptionTestFile.run,
            "ExceptionTestFile.from_string": exception_test.ExceptionTestFile.__dict__["from_string"].__func__,
            "test_case.call_func": exception_test.test_case.call_func,
            "TestCaseResult": abstract_test.TestCaseResult,
        }

    noted = machinery()
    code = {name: getattr(value, "__code__", None) for name, value in noted.items()}
    write, dumps, test_file = sys.stdout.write, json.dumps, exception_test.ExceptionTestFile

    def tampered():
        now = machinery()
        return sorted(n for n in noted if now[n] is not noted[n] or getattr(now[n], "__code__", None) is not code[n])

    return tampered, write, dumps, test_file


_course_grading = _course_grading_seal()
del _course_grading_seal
"""

# After it: the hidden tests, which enter the kernel only now, and the results as one line after the marker.
GRADING_CELL = """\
_tampered, _write, _dumps, _TestFile = _course_grading
_results = []
for _name, _source in {tests!r}:
    _test = _TestFile.from_string(_source, path=_name)
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
_write({marker!r} + _dumps({{"questions": _results, "tampered": _tampered()}}) + "\\n")
"""


COLUMNS = ["submission", "question", "points", "max", "reason", "sealed", "flagged"]  # of grades.csv


@dataclass
class Graded:
    """One submission's rows: a question each, or one row saying why it was not graded."""

    submission: str
    lesson: str | None = None
    questions: list[dict] = field(default_factory=list)
    reason: str = ""
    sealed: bool = True  # its kernel ran in the sandbox (not when the teacher passed --trust-submissions)
    flagged: bool = False  # it tampered with what grades it


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
    root: Path,
    path: Path,
    number: int,
    scratch: Path,
    known: set[str],
    parameters,
    *,
    seal: Seal | None,
    tolerant: bool = True,
) -> tuple[Graded, LessonJob | None, str]:
    """The job that grades one submission, in its own folder under ``scratch``; or its row saying why not.
    ``seal``: how its kernel is sealed (None: not at all, as the teacher chose). ``tolerant``: every cell
    may fail (a returned notebook); without it the first error stops the run (an untouched student
    version, which must run to its end)."""
    graded = Graded(path.name, sealed=seal is not None)
    if path.suffix != ".ipynb":
        graded.reason = f"not a notebook (a {path.suffix or 'file without extension'}): return the lesson's .ipynb"
        return graded, None, ""
    try:
        notebook = notebooks.read_notebook(path)
    except notebooks.NotebookError as error:
        graded.reason = f"not a readable notebook ({error.reason})"
        return graded, None, ""
    graded.lesson = lesson_of(notebook, path, known)
    if graded.lesson is None:
        graded.reason = f"no lesson with exercises matches it (known: {', '.join(sorted(known))})"
        return graded, None, ""
    marker = f"{secrets.token_hex(16)}:"
    for cell in notebooks.cells(notebook) if tolerant else []:
        if cell["cell_type"] == "code" and not notebooks.has_tag(cell, notebooks.RAISES_TAG):
            cell.setdefault("metadata", {})["tags"] = [*notebooks.tags(cell), notebooks.RAISES_TAG]
    tests = [
        (test.name, test.read_text(encoding="utf-8"))
        for test in sorted(grading_tests(root, graded.lesson).glob("*.py"))
    ]
    notebook["cells"].insert(0, notebooks.code_cell(SEAL_CELL, id="course-grading-seal"))
    notebook["cells"].append(notebooks.code_cell(GRADING_CELL.format(tests=tests, marker=marker), id="course-grading"))
    folder = scratch / f"{number:03d}"
    for private in ("home", "tmp"):
        (folder / private).mkdir(parents=True)
    work = folder / "work" / f"submission_{number:03d}.ipynb"
    notebooks.write_notebook(work, notebook)
    env = {"HOME": str(folder / "home"), "COURSE_ROOT": str(root), "TMPDIR": str(folder / "tmp")}
    job = LessonJob(
        work, folder / "executed.ipynb", parameters(graded.lesson), env=env, seal=seal.to_json() if seal else None
    )
    return graded, job, marker


def read_grades(graded: Graded, result: LessonResult, executed: Path, marker: str, expected: list[str]) -> None:
    """The grading cell's line from the executed submission; without it every question scores 0, and so it
    does when the submission replaced what grades it."""
    try:
        text = executed.read_text(encoding="utf-8", errors="replace")
        cell = notebooks.cells(json.loads(text))[-1]
        printed = "".join(
            "".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream"
        )
        line = next(line for line in printed.splitlines() if line.startswith(marker))
        found = json.loads(line[len(marker) :])
        questions, tampered = found["questions"], found["tampered"]
    except (OSError, ValueError, IndexError, KeyError, TypeError, StopIteration):
        not_graded(graded, result.failure() if not result.ok else "the grading cell printed no result", expected)
        return
    if tampered:
        not_graded(graded, f"it replaced what grades it ({', '.join(map(str, tampered))})", expected)
        graded.flagged = True
        return
    graded.questions = questions


def not_graded(graded: Graded, why: str, expected: list[str]) -> None:
    """Every question of the submission at 0 points, with the reason."""
    graded.reason = f"not graded: {why}"
    graded.questions = [{"question": name, "points": 0, "max": None, "failed": [why]} for name in expected]


def write_outputs(build: Path, rows: list[Graded]) -> Path:
    """``build/grades.csv`` and ``build/feedback/<submission>.md``; returns the CSV."""
    lines = []
    for graded in rows:
        marks = {"sealed": "yes" if graded.sealed else "no", "flagged": "yes" if graded.flagged else ""}
        if not graded.questions:
            lines.append(
                {"submission": graded.submission, "question": "", "points": 0, "reason": graded.reason, **marks}
            )
        for question in graded.questions:
            lines.append({"submission": graded.submission, **question, "reason": graded.reason, **marks})
        write_text(build / "feedback" / f"{graded.submission}.md", feedback(graded))
    target = build / "grades.csv"
    write_csv(target, COLUMNS, lines)
    return target


def feedback(graded: Graded) -> str:
    lines = [f"# {graded.submission}", ""]
    if not graded.sealed:
        lines += ["Graded unsealed: its code ran with the grader's rights (`course grade --trust-submissions`).", ""]
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
