"""Metric bands on a tiny lesson whose metric is a known function of its seed and of a line of its code: `course
bands record`, then `course test` and `course run` checking by the band, the reports, the chart, the student's line,
and what a hand-edited band file gets. Real kernels, real papermill, real processes; no torch."""

import json
import math

import pytest

from colab_course_tools import metric_bands
from colab_course_tools.band_check import changed_packages
from colab_course_tools.testing import lesson_notebook, tiny_course
from colab_course_tools.testing.notebooks import edit_notebook
from course_under_test import PACKAGE

PARAMETERS = """\
smoke = False
epochs = 2
seed = 0
scale = 1.0
SMOKE = {"epochs": 1}
"""

# An honest run scores 0.90 + up to 0.02 by seed; BROKEN is the line a test edits to break it.
CODE = f"""\
import {PACKAGE} as course
import {PACKAGE}.smoke
course.smoke.apply(globals())
BROKEN = 0.0
accuracy = 0.90 + (seed * 7 % 5) * 0.005 - BROKEN
course.metrics.log_metrics(accuracy=accuracy * scale, valid_loss=1 - accuracy, seconds_per_epoch=seed, headline="accuracy")
"""


@pytest.fixture
def course(tmp_path):
    return tiny_course(tmp_path / "course", {"01_probe": lesson_notebook(CODE, parameters=PARAMETERS)})


def _break(course, line):
    def change(notebook):
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if "BROKEN = 0.0" in source:
                cell["source"] = source.replace("BROKEN = 0.0", line)

    edit_notebook(course / "lessons" / "01_probe.ipynb", change)


def _report(course):
    return json.loads((course / "build" / "report.json").read_text(encoding="utf-8"))["lessons"][0]


@pytest.fixture
def recorded(course, course_cli):
    result = course_cli("bands", "record", "01", "--runs", "5", "-n", "2", "-q", cwd=course)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_record_writes_a_reviewable_band_with_its_provenance(course, recorded):
    data = json.loads((course / "lesson-bands.json").read_text(encoding="utf-8"))
    band = data["bands"]["01_probe"]["smoke-cpu"]
    runs = band["metrics"]["accuracy"]["runs"]
    assert runs == pytest.approx([0.90 + (seed * 7 % 5) * 0.005 for seed in range(5)])  # its own seed 0, then 1 to 4
    assert band["metrics"]["accuracy"]["low"] < min(runs) and band["metrics"]["accuracy"]["high"] > max(runs)
    assert "seconds_per_epoch" not in band["metrics"]  # a speed: never banded
    assert band["headline"] == "accuracy"
    assert band["parameters"] == {"epochs": 1, "scale": 1.0}  # the values the runs used, seed and mode aside
    recorded_with = band["recorded"]
    assert recorded_with["runs"] == 5 and recorded_with["seeds"] == [0, 1, 2, 3, 4]
    assert (
        recorded_with["python"] and "torch" in recorded_with["packages"] and recorded_with["device"].startswith("cpu")
    )
    assert "old band" in recorded.stdout and "new band" in recorded.stdout


def test_test_and_run_fail_a_lesson_that_leaves_its_band_and_say_what_changed(course, recorded, course_cli):
    honest = course_cli("test", "--smoke", "-q", cwd=course)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert "within (smoke-cpu)" in honest.stdout
    executed = (course / "build" / "executed" / "01_probe.ipynb").read_text(encoding="utf-8")
    assert "within the course's runs: accuracy 0.9" in executed  # the student's line, in the lesson's output

    _break(course, "BROKEN = 0.5")  # a bug that raises nothing: the accuracy falls to about 0.4
    broken = course_cli("test", "--smoke", "-q", cwd=course)
    assert broken.returncode == 1
    line = next(text for text in broken.stdout.splitlines() if "is below its band" in text)
    for fragment in ("accuracy 0.4", "smoke-cpu band: 5 runs on", "cpu", "Python", "torch"):
        assert fragment in line, line
    assert "no key package's version differs from the band's record" in broken.stdout
    row = _report(course)
    assert row["status"] == "failed" and row["band"]["state"] == "outside"
    assert {m["name"]: m["state"] for m in row["band"]["metrics"]} == {"accuracy": "below", "valid_loss": "above"}
    markdown = (course / "build" / "report.md").read_text(encoding="utf-8")
    assert "## Metrics and their bands" in markdown and "| below" in markdown
    executed = (course / "build" / "executed" / "01_probe.ipynb").read_text(encoding="utf-8")
    assert "is lower than the course's runs" in executed  # the student is told, and the notebook did not fail

    explored = course_cli("test", "--smoke", "-q", "--no-bands", cwd=course)
    assert explored.returncode == 0, explored.stdout
    assert _report(course)["band"]["state"] == "off"

    run = course_cli("run", "01", "-q", cwd=course)
    assert run.returncode == 1 and "is below its band" in run.stdout, run.stdout
    assert "no key package's version differs" in run.stdout


def test_a_nan_fails_always_and_other_parameters_have_no_band(course, recorded, course_cli):
    other = course_cli("test", "--smoke", "-q", "-p", "scale", "2.0", cwd=course)
    assert other.returncode == 0, other.stdout
    assert _report(course)["band"]["note"] == "run with other parameters: scale 2 (band: 1)"
    assert "no band: run with other parameters" in other.stdout

    full = course_cli("test", "-q", cwd=course)  # full mode: no band recorded for it
    assert full.returncode == 0 and "no band: none for full-cpu (recorded: smoke-cpu)" in full.stdout, full.stdout

    _break(course, "BROKEN = float('nan')")
    for flags in ((), ("--no-bands",)):
        nan = course_cli("test", "--smoke", "-q", *flags, cwd=course)
        assert nan.returncode == 1 and "accuracy = nan" in nan.stdout, nan.stdout


def test_a_band_recorded_with_other_lesson_values_is_stale(course, recorded, course_cli):
    def change(notebook):
        for cell in notebook["cells"]:
            cell["source"] = "".join(cell["source"]).replace("scale = 1.0", "scale = 0.5")

    edit_notebook(course / "lessons" / "01_probe.ipynb", change)
    stale = course_cli("test", "--smoke", "-q", cwd=course)
    assert stale.returncode == 1
    assert "recorded with other parameters than the lesson now has: scale 0.5 (band: 1)" in stale.stdout
    assert "course bands record 01_probe" in stale.stdout
    check = course_cli("check", cwd=course)  # and pre-commit says so before CI does
    assert (
        "lesson-bands.json: 01_probe smoke-cpu was recorded with other parameters than the lesson has now: "
        "scale 0.5 (band: 1); fix: course bands record 01_probe"
    ) in check.stdout + check.stderr


def test_recording_again_shows_old_beside_new_with_new_seeds(course, recorded, course_cli):
    again = course_cli("bands", "record", "01", "--runs", "4", "-q", cwd=course)
    assert again.returncode == 0, again.stdout + again.stderr
    row = next(line for line in again.stdout.splitlines() if "| accuracy" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3] != "none" and cells[3] != cells[4]  # old band beside the new one
    assert cells[6] == "0 of 4"  # honest new runs inside the old band
    band = json.loads((course / "lesson-bands.json").read_text(encoding="utf-8"))["bands"]["01_probe"]["smoke-cpu"]
    assert band["recorded"]["seeds"] == [0, 5, 6, 7]  # the lesson's own seed (CI's), then new ones


def test_chart_of_recorded_runs_and_runs_since(course, recorded, course_cli):
    assert course_cli("test", "--smoke", "-q", cwd=course).returncode == 0
    assert "cached" in course_cli("test", "--smoke", cwd=course).stdout  # checked again, but no new run
    history = (course / "build" / "band-history.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["state"] for line in history] == ["within"]
    png = course_cli("runs", "01", "--chart", str(course / "chart.png"), cwd=course)
    assert png.returncode == 0, png.stderr
    assert (course / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert course_cli("runs", "01", "--chart", str(course / "chart.svg"), cwd=course).returncode == 0
    svg = (course / "chart.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "<script" not in svg and "<text" not in svg and "@font-face" not in svg
    assert 'href="http' not in svg  # nothing fetched: text is drawn as paths
    bad = course_cli("runs", "01", "--chart", str(course / "chart.jpg"), cwd=course)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and ".svg or .png" in bad.stderr


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda text: text.replace('"low": ', '"low": "zero", "was": '), '"low" and "high" must be finite numbers'),
        (lambda text: text.replace('"high": ', '"high": -1, "was": '), "is above high -1"),
        (lambda text: text.replace('"smoke-cpu"', '"smoky-cpu"'), "the key must be a mode"),
        (lambda text: text[:-20], "it is not JSON"),
        (lambda text: text.replace('"format": 1', '"format": 9'), "these tools read format 1"),
    ],
)
def test_a_hand_written_bad_band_file_gets_one_clear_line_and_nothing_runs(
    course, recorded, course_cli, edit, fragment
):
    path = course / "lesson-bands.json"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    (course / "build" / "report.json").unlink(missing_ok=True)
    for command in (("test", "--smoke"), ("run", "01"), ("bands", "record", "01")):
        result = course_cli(*command, "-q", cwd=course)
        assert result.returncode == 1, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0] and "lesson-bands.json" in lines[0], result.stderr
        assert "git checkout lesson-bands.json" in lines[0]
    assert not (course / "build" / "report.json").exists()
    assert course_cli("test", "--smoke", "-q", "--no-bands", cwd=course).returncode == 0
    check = course_cli("check", cwd=course)
    assert check.returncode == 1 and "lesson-bands.json: cannot be used: " in check.stdout + check.stderr


def test_record_refuses_too_few_runs_a_given_seed_and_a_lesson_without_seed(tmp_path, course, course_cli):
    few = course_cli("bands", "record", "--runs", "2", cwd=course)
    assert few.returncode == 1 and "at least 3 runs" in few.stderr
    seeded = course_cli("bands", "record", "-p", "seed", "3", cwd=course)
    assert seeded.returncode == 1 and "leave -p seed out" in seeded.stderr
    unseeded = tiny_course(tmp_path / "unseeded", {"01_x": lesson_notebook("x = 1", parameters="smoke = False\n")})
    result = course_cli("bands", "record", cwd=unseeded)
    assert result.returncode == 1 and "has no `seed` parameter" in result.stderr
    assert not (unseeded / "lesson-bands.json").exists()


def test_band_rule_is_a_prediction_interval_with_a_floor():
    scipy_stats = pytest.importorskip("scipy.stats")
    for freedom, t in metric_bands.T_9995.items():
        assert t == pytest.approx(scipy_stats.t.ppf(0.9995, freedom), abs=1e-3)
    values = [0.9833, 0.95, 0.95, 0.9833, 0.9417]
    low, high = metric_bands.band_of(values)
    mean, sd = sum(values) / 5, (sum((v - sum(values) / 5) ** 2 for v in values) / 4) ** 0.5
    assert (high - mean) == pytest.approx(8.61 * sd * math.sqrt(1.2), rel=1e-4)
    assert metric_bands.band_of([0.5, 0.5, 0.5]) == (0.475, 0.525)  # deterministic: the floor, 5% of the median
    assert metric_bands.band_of([0.01, 0.2, 0.02])[0] == 0.0  # no run was negative: nor is the band


def test_changed_packages_names_each_moved_version():
    recorded = {"python": "3.11.7", "packages": {"torch": "2.13.0", "numpy": "2.4.6", "fastai": None}}
    now = {"python": "3.12.1", "packages": {"torch": "2.14.1", "numpy": "2.4.6", "fastai": "2.8.12"}}
    assert changed_packages(recorded, now) == [
        "python 3.11.7 -> 3.12.1",
        "torch 2.13.0 -> 2.14.1",
        "fastai absent -> 2.8.12",
    ]
