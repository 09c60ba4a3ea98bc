"""A smoke run started by papermill alone (`papermill lesson.ipynb out.ipynb -p smoke True`, as a CI outside the
course's tools runs a lesson) takes the lesson's SMOKE values, after papermill's injected cell; a value given
with -p wins. Real papermill, a real kernel."""

import json

import papermill
import pytest
from colab_course_tools.testing import write_notebook

from conftest import PACKAGE, ROOT

PARAMETERS = 'smoke = False\nepochs = 5\nbatch_size = 64\nSMOKE = {"epochs": 1, "batch_size": 8}'
AFTER = f"import {PACKAGE} as course\ncourse.smoke.apply(globals())\nprint(epochs, batch_size)"


@pytest.mark.parametrize(
    "given, printed",
    [
        ({}, "5 64"),  # not a smoke run: the lesson's own values
        ({"smoke": True}, "1 8"),  # papermill -p smoke True: SMOKE's values
        ({"smoke": True, "epochs": 3}, "3 8"),  # -p epochs 3 wins over SMOKE's
    ],
)
def test_papermill_alone_runs_a_lesson_small(tmp_path, given, printed, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    lesson = write_notebook(tmp_path / "lesson.ipynb", AFTER, parameters=PARAMETERS)
    executed = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(lesson), str(executed), parameters=given, progress_bar=False, kernel_name="python3")
    cell = json.loads(executed.read_text(encoding="utf-8"))["cells"][-1]
    assert "".join(cell["outputs"][0]["text"]).strip() == printed


def test_every_lesson_applies_smoke_right_after_its_parameters_and_imports():
    """The shipped lessons call it in the first code cell after the parameters cell, after that cell's imports
    (warm starts pre-import them), before any parameter is read."""
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        at = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
        first = next(c for c in cells[at + 1 :] if c["cell_type"] == "code")
        code = [line for line in "".join(first["source"]).splitlines() if line.strip()]
        applied = next(i for i, line in enumerate(code) if line.startswith("course.smoke.apply(globals())"))
        assert all(line.startswith(("import ", "from ")) for line in code[:applied]), path.name
