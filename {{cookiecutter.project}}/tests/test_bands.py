"""The line a student's run prints when it logs its final headline metric, against the course's shipped
lesson-bands.json, in a kernel that knows nothing of the tools (as in Colab: no lesson name, found from the
parameters the notebook defines). Real papermill, a real kernel."""

import json
import shutil

import papermill
import pytest
from colab_course_tools.testing import write_notebook

from conftest import PACKAGE, ROOT

BAND = json.loads((ROOT / "lesson-bands.json").read_text(encoding="utf-8"))["bands"]["01_first_model"]["smoke-cpu"]
PARAMETERS = "smoke = True\nseed = 42\naccuracy = 0.0\n" + "".join(
    f"{name} = {value!r}\n" for name, value in BAND["parameters"].items()
)
LOG = f"import {PACKAGE} as course\ncourse.metrics.log_metrics(accuracy=accuracy, headline='accuracy')"
LOW, HIGH = BAND["metrics"]["accuracy"]["low"], BAND["metrics"]["accuracy"]["high"]


@pytest.mark.parametrize(
    "given, printed",
    [
        ({"accuracy": (LOW + HIGH) / 2}, "within the course's runs: accuracy"),
        ({"accuracy": LOW / 2}, "is lower than the course's runs"),
        ({"accuracy": (LOW + HIGH) / 2, "epochs": 99}, "your parameters differ from the course's runs (epochs 99"),
        ({"accuracy": (LOW + HIGH) / 2, "smoke": False}, None),  # no full-cpu band: nothing to say
    ],
)
def test_a_students_run_is_compared_with_the_course_band(tmp_path, monkeypatch, given, printed):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "lesson-bands.json", course)
    shutil.copy(ROOT / "pyproject.toml", course)
    for name in ("COURSE_LESSON", "JPY_SESSION_NAME", "COURSE_RUN_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    monkeypatch.setenv("COURSE_ROOT", str(course))
    lesson = write_notebook(tmp_path / "lesson.ipynb", LOG, parameters=PARAMETERS)
    executed = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(lesson), str(executed), parameters=given, progress_bar=False, kernel_name="python3")
    outputs = json.loads(executed.read_text(encoding="utf-8"))["cells"][-1]["outputs"]
    text = "".join("".join(output.get("text", "")) for output in outputs)
    if printed is None:
        assert text == ""
    else:
        assert printed in text and text.count("\n") == 1, text
