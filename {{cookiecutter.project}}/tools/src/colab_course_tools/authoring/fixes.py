"""What `course sync` repairs by itself: outputs, notebook format, setup cells, metadata, the README.

Outputs are stripped by the nbstripout hook itself (``checks.stripout``). The rest is
``apply_fixes``, which the template's post-generation hook also calls on every fresh bake, so a
new course passes `course check` by construction: standard library only for that reason, since
the hook runs before any dependency is installed. Stale student versions are written again by
`course assign` when otter-grader is installed.
"""

from __future__ import annotations

import difflib
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import notebooks
from ..config import CourseConfig
from ..lessons import lesson_files
from ..setup_cell import setup_cell, setup_cell_source
from .checks import Course, Problem, find_problems, missing_metadata, rewritable
from .readme import sync_readme


@dataclass(frozen=True)
class ReplacedSetupCell:
    """A teacher's edited setup cell that sync replaced: the lesson, a copy of it as it was, the change."""

    lesson: Path
    backup: Path
    diff: str


def sync(root: Path, config: CourseConfig) -> tuple[list[Problem], list[Problem], list[ReplacedSetupCell]]:
    """Fix what can be fixed; returns the problems fixed, those left, and the edited setup cells replaced
    (each lesson copied to ``build/sync-backup/<time>/`` first)."""
    before = find_problems(root, config)
    replaced = []
    if any(problem.fixable for problem in before):
        from .checks import stripout

        replaced = _back_up_edited_setup_cells(root, config)
        with_outputs = {root / problem.path for problem in before if problem.message.startswith("outputs,")}
        if with_outputs:
            stripout(root, sorted(with_outputs), verify=False)
        apply_fixes(root, config)
    _assign_stale_exercises(root, before)
    after = find_problems(root, config)
    return [problem for problem in before if problem not in after], after, replaced


def _assign_stale_exercises(root: Path, problems: list[Problem]) -> None:
    """`course assign` for lessons whose student version is missing or stale, when otter-grader is here
    (without it the problem stays, with its fix)."""
    import importlib.util

    if importlib.util.find_spec("otter") is None:
        return
    from ..exercises.assign import assign

    stale = {Path(problem.path).stem for problem in problems if problem.message.startswith(("missing:", "stale:"))}
    for lesson in lesson_files(root):
        if lesson.stem in stale:
            assign(root, lesson)


def _back_up_edited_setup_cells(root: Path, config: CourseConfig) -> list[ReplacedSetupCell]:
    """Copy each lesson whose setup cell differs from the canonical one, and say how it differs."""
    canonical = setup_cell_source(config)
    folder = root / "build" / "sync-backup" / time.strftime("%Y%m%d-%H%M%S")
    replaced = []
    course = Course(root, config)
    for path in course.lessons:
        notebook = course.notebook(path)
        cells = notebooks.cells(notebook) if notebook else []
        if not cells or not notebooks.has_tag(cells[0], notebooks.SETUP_TAG):
            continue
        current = notebooks.cell_source(cells[0])
        if current == canonical:
            continue
        backup = folder / path.name
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, backup)
        lines = difflib.unified_diff(
            current.splitlines(), canonical.splitlines(), "your setup cell", "the canonical setup cell", lineterm=""
        )
        replaced.append(ReplacedSetupCell(path, backup, "\n".join(lines)))
    return replaced


def apply_fixes(root: Path, config: CourseConfig) -> None:
    """Strip outputs and save every notebook canonically; give lessons and their student versions the
    setup cell and Colab metadata; rewrite the README's lesson table and its Colab links. Writes only what changes."""
    course = Course(root, config)
    for path in [*course.notebooks, *course.student_lessons]:
        notebook = course.notebook(path)
        if not rewritable(notebook):
            continue
        _add_cell_ids(notebook)
        if path in course.lessons or path in course.student_lessons:
            _remove_papermill_leftovers(notebook)
            _put_setup_cell(notebook, config)
            _add_metadata(notebook)
        if path.read_bytes() != notebooks.notebook_bytes(notebook):
            notebooks.write_notebook(path, notebook)
    sync_readme(root, config)


def _remove_papermill_leftovers(notebook: dict) -> None:
    """An executed copy back in lessons/: drop papermill's injected cell and its run metadata."""
    notebook["cells"] = [cell for cell in notebook["cells"] if not notebooks.has_tag(cell, notebooks.INJECTED_TAG)]
    notebook.get("metadata", {}).pop("papermill", None)
    for cell in notebooks.cells(notebook):
        if isinstance(cell.get("metadata"), dict):
            cell["metadata"].pop("papermill", None)


def _add_cell_ids(notebook: dict) -> None:
    """Upgrade an nbformat 4.0-4.4 notebook to 4.5 by giving every cell a unique id."""
    if notebook.get("nbformat_minor", 0) >= 5:
        return
    notebook["nbformat_minor"] = 5
    seen = set()
    for cell in notebooks.cells(notebook):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])


def _put_setup_cell(notebook: dict, config: CourseConfig) -> None:
    """Make the first cell the canonical setup cell: rewrite it, move a tagged one up, or insert one."""
    canonical, cells = setup_cell(config), notebook["cells"]
    source = setup_cell_source(config)
    tagged = [i for i, cell in enumerate(cells) if notebooks.has_tag(cell, notebooks.SETUP_TAG)]
    if tagged and tagged[0] == 0 and cells[0].get("cell_type") == "code":
        cells[0]["source"] = source
        return
    cell = cells.pop(tagged[0]) if tagged else canonical
    cell.update(cell_type="code", source=source, outputs=[], execution_count=None)
    taken = {other.get("id") for other in cells}
    number = 1
    while cell.get("id") in taken:
        cell["id"], number = f"{notebooks.SETUP_TAG}-{number}", number + 1
    cells.insert(0, cell)


def _add_metadata(notebook: dict) -> None:
    """Add the missing kernel and Colab metadata (asking for no GPU: that is the teacher's choice)."""
    defaults = notebooks.notebook_metadata(gpu=False)
    for key in missing_metadata(notebook):
        notebook.setdefault("metadata", {})[key] = defaults[key]
