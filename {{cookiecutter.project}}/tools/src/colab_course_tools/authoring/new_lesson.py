"""`course new`: the next numbered lesson, in the shipped lessons' style, listed in the README."""

from __future__ import annotations

from pathlib import Path

from .. import notebooks
from ..config import CourseConfig
from ..errors import CourseError
from ..lessons import lesson_number
from ..setup_cell import setup_cell
from .naming import next_lesson_path
from .readme import readme_with_table, write_lesson_table

DEFAULT_PARAMETERS = """\
# Parameters: change a value here and run the lesson again, or try one without editing:
# `course run {number} -p epochs 10`. Smoke runs (CI) set them too; later cells never assign them.
smoke = False  # True in smoke runs (CI, `course test --smoke`), which also take the values in SMOKE
epochs = 3
batch_size = 64
seed = 42
device = "auto"  # "auto" (GPU if there is one), "cpu" or "cuda"

# Smoke runs take these small values, just to check that everything runs (a value given with -p wins).
SMOKE = {"epochs": 1}
# The values each parameter may take: `course run` and `course test` check them before a lesson starts.
ALLOWED = {"epochs": ">= 1", "batch_size": ">= 1", "device": ["auto", "cpu", "cuda"]}"""


# After the parameters cell (and a cell's imports): what `papermill -p smoke True` needs to run small, as CI does.
APPLY_SMOKE = "course.smoke.apply(globals())  # in a smoke run, the SMOKE values of what it was not given\n"


def lesson_skeleton(config: CourseConfig, title: str, number: int, *, exercise: bool = False) -> dict:
    """A new lesson in the shipped lessons' style: setup cell, "# NN · Title", parameters cell, a first
    numbered section to fill in, and with ``exercise`` one exercise in otter's markers."""
    from ..exercises.questions import skeleton_cells

    heading = f"{number:02d} · {' '.join(title.split())}"
    notebook = notebooks.new_notebook(
        [
            setup_cell(config),
            notebooks.markdown_cell(f"# {heading}\n\nWhat you will learn, in two or three sentences.", id="title"),
            notebooks.code_cell(
                DEFAULT_PARAMETERS.replace("{number}", f"{number:02d}"),
                id=notebooks.PARAMETERS_TAG,
                tags=[notebooks.PARAMETERS_TAG],
            ),
            notebooks.markdown_cell("## 1. First step\n\nExplain the idea, then show it in code.", id="first-step"),
            notebooks.code_cell(APPLY_SMOKE, id="first-step-code"),
        ]
    )
    if exercise:
        notebook["cells"] += skeleton_cells()
    return notebook


def new_lesson(root: Path, config: CourseConfig, title: str, *, exercise: bool = False) -> Path:
    """Write the skeleton of the next lesson and list it in the README."""
    if not title.strip():
        raise CourseError('the lesson title is empty: give one, e.g. course new "Convolutions"')
    readme_with_table(root, config)  # fail before writing anything if the README has no table
    path = next_lesson_path(root, title)
    path.parent.mkdir(exist_ok=True)
    notebooks.write_notebook(path, lesson_skeleton(config, title.strip(), lesson_number(path), exercise=exercise))
    write_lesson_table(root, config)
    return path
