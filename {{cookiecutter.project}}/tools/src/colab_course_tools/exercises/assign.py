"""`course assign`: the student version of every lesson with exercises, made by ``otter assign``.

For a lesson ``lessons/01_first_model.ipynb`` with otter's markers:

- ``student/lessons/01_first_model.ipynb``: solutions replaced by ``...``, test cells replaced by
  check cells, a cell before the first check that makes the grader (``exercises.checks``), and in
  its metadata the SHA-256 of the teacher's lesson it was made from (`course check` finds it stale);
- ``student/tests/01_first_model/<question>.py``: the public tests only;
- ``build/grading/01_first_model/<question>.py``: every test, hidden ones included, for `course grade`.

otter runs in a child process (its import and logging stay out of this one) on a copy of the lesson
with the assignment settings below, so a teacher writes only questions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import notebooks
from ..atomic import write_bytes, write_json
from ..errors import CourseError
from ..lessons import lesson_files
from . import STUDENT_FOLDER, public_tests
from .questions import read_exercises

ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
requirements: false
export_cell: false
init_cell: false
check_all_cell: false
run_tests: false
generate: false
save_environment: false
tests:
  files: true
  ok_format: false
"""
CHECKS_CELL_ID = "exercise-checks"
# Beside the public tests: how many hidden tests each question has, so a check can say what grading adds.
HIDDEN_COUNTS = "hidden-tests.json"


def student_lesson(root: Path, lesson: str) -> Path:
    return root / STUDENT_FOLDER / "lessons" / f"{lesson}.ipynb"


def grading_tests(root: Path, lesson: str) -> Path:
    return root / "build" / "grading" / lesson


def source_digest(lesson: Path) -> str:
    """The lesson as its student version depends on it: the kind and code of every cell but the setup cell,
    which `course sync` writes into both (metadata, outputs and run leftovers do not count)."""
    cells = notebooks.cells(notebooks.read_notebook(lesson))
    if cells and notebooks.has_tag(cells[0], notebooks.SETUP_TAG):
        cells = cells[1:]
    parts = [[cell.get("cell_type"), notebooks.cell_source(cell)] for cell in cells]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def exercise_lessons(root: Path) -> list[Path]:
    return [path for path in lesson_files(root) if read_exercises(notebooks.read_notebook(path)).questions]


def assign(root: Path, lesson: Path) -> list[str]:
    """Write the student version, public tests and grading tests of ``lesson``; returns its questions."""
    with tempfile.TemporaryDirectory(prefix="course-assign-") as scratch:
        master = Path(scratch) / lesson.name
        notebook = notebooks.read_notebook(lesson)
        config = {"cell_type": "raw", "id": "assignment-config", "metadata": {}, "source": ASSIGNMENT_CONFIG}
        notebook["cells"].insert(0, config)
        notebooks.write_notebook(master, notebook)
        result = Path(scratch) / "dist"
        ran = subprocess.run(
            [sys.executable, "-m", "otter", "assign", str(master), str(result)],
            capture_output=True,
            text=True,
            cwd=scratch,
        )
        if ran.returncode != 0:
            lines = [line for line in ran.stderr.splitlines() if line.strip()] or ["otter assign failed"]
            raise CourseError(f"{lesson.name}: otter assign: {lines[-1]}")
        student = notebooks.read_notebook(result / "student" / lesson.name)
        _stable_ids(student, {cell.get("id") for cell in notebooks.cells(notebook)})
        _add_checks_cell(student, lesson.stem)
        student.setdefault("metadata", {})["course"] = {"lesson": lesson.stem, "from_sha256": source_digest(lesson)}
        _replace_folder(public_tests(root, lesson.stem), result / "student" / "tests")
        _replace_folder(grading_tests(root, lesson.stem), result / "autograder" / "tests")
        write_json(public_tests(root, lesson.stem) / HIDDEN_COUNTS, hidden_counts(grading_tests(root, lesson.stem)))
        notebooks.write_notebook(student_lesson(root, lesson.stem), student)
    return read_exercises(notebooks.read_notebook(lesson)).questions


def hidden_counts(tests: Path) -> dict[str, int]:
    """Question -> its number of hidden test cases (``@test_case(..., hidden=True)``), read from otter's files."""
    import ast

    counts = {}
    for path in sorted(tests.glob("*.py")):
        functions = [
            node for node in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(node, ast.FunctionDef)
        ]
        counts[path.stem] = sum(
            1
            for function in functions
            for decorator in function.decorator_list
            if isinstance(decorator, ast.Call)
            and any(k.arg == "hidden" and getattr(k.value, "value", False) is True for k in decorator.keywords)
        )
    return counts


def _stable_ids(notebook: dict, teacher_ids: set) -> None:
    """otter gives the cells it adds random ids; numbered ones keep a rerun of `course assign` without a diff."""
    for number, cell in enumerate(notebooks.cells(notebook)):
        if cell.get("id") not in teacher_ids:
            cell["id"] = f"otter-{number}"


def _add_checks_cell(notebook: dict, lesson: str) -> None:
    """The grader, made just before the first check cell (after every import a lesson makes)."""
    cells = notebook["cells"]
    at = next((i for i, cell in enumerate(cells) if "grader.check(" in notebooks.cell_source(cell)), len(cells))
    source = (
        f'grader = course.exercises.checks("{lesson}")  '
        '# each check below runs the tests you can see: `grader.check("name")`'
    )
    cells.insert(at, notebooks.code_cell(source, id=CHECKS_CELL_ID))


def _replace_folder(target: Path, new: Path) -> None:
    """``target`` becomes a copy of ``new``'s test files; nothing else is left in it."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {path.name for path in new.glob("*.py")} if new.is_dir() else set()
    for old in target.iterdir():
        if old.name not in wanted:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    for name in sorted(wanted):
        write_bytes(target / name, (new / name).read_bytes())
