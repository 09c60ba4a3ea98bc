"""The default course's shipped band of lesson 01 (smoke, CPU) against real training: four ways of breaking it that
raise nothing each leave the band, and 20 honest runs with new seeds stay inside it. Real fastai, real kernels."""

import json
import shutil

import pytest

from colab_course_tools.testing.notebooks import edit_notebook
from course_under_test import ROOT
from tools.lesson_breaks import BREAKS, LESSON


@pytest.fixture
def course(tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "build", "data", "checkpoints"))
    return copy


def _bands(course):
    return json.loads((course / "lesson-bands.json").read_text(encoding="utf-8"))


@pytest.mark.xdist_group("real-lesson-bands")
def test_training_broken_four_ways_leaves_the_shipped_band(course, course_cli):
    data = _bands(course)
    band = data["bands"][LESSON]["smoke-cpu"]
    for name, (line, broken) in BREAKS.items():
        target = course / "lessons" / f"{name}.ipynb"
        shutil.copy(course / "lessons" / f"{LESSON}.ipynb", target)

        def change(notebook, line=line, broken=broken, name=name):
            found = 0
            for cell in notebook["cells"]:
                source = "".join(cell["source"])
                found += line in source
                # images of its own: lessons side by side must not share a folder one of them writes noise into
                source = source.replace(line, broken).replace('f"digits-{', f'f"{name}-{{')
                cell["source"] = source
            assert found == 1, f"{line!r} is no longer in {LESSON}: update this test"

        edit_notebook(target, change)
        data["bands"][name] = {"smoke-cpu": band}  # the same parameters: the same band
    (course / "lesson-bands.json").write_text(json.dumps(data), encoding="utf-8")

    result = course_cli("test", *BREAKS, "--smoke", "-n", "2", "-q", cwd=course)

    rows = {row["lesson"]: row for row in json.loads((course / "build" / "report.json").read_text())["lessons"]}
    for name in BREAKS:
        row = rows[name]
        assert row["status"] == "failed" and row["band"]["state"] == "outside", (name, row["error"], result.stdout)
        assert row["failed_cell"] is None  # the lesson itself ran to its end: only the band caught it
        accuracy = next(metric for metric in row["band"]["metrics"] if metric["name"] == "accuracy")
        assert accuracy["state"] == "below", (name, accuracy)
    assert result.returncode == 1


@pytest.mark.xdist_group("real-lesson-bands")
def test_twenty_honest_runs_with_new_seeds_stay_inside_the_shipped_band(course, course_cli):
    shipped = _bands(course)["bands"][LESSON]["smoke-cpu"]
    result = course_cli("bands", "record", LESSON, "--runs", "21", "-n", "2", "-q", cwd=course)
    assert result.returncode == 0, result.stdout + result.stderr
    new = _bands(course)["bands"][LESSON]["smoke-cpu"]
    fresh = set(new["recorded"]["seeds"][1:])  # the first is the lesson's own seed, as in every recording
    assert fresh.isdisjoint(shipped["recorded"]["seeds"]) and len(fresh) == 20
    for metric, limits in shipped["metrics"].items():
        outside = [
            value for value in new["metrics"][metric]["runs"][1:] if not limits["low"] <= value <= limits["high"]
        ]
        assert not outside, (
            f"{metric}: honest runs {outside} outside the shipped band {limits['low']} to {limits['high']}"
        )
    assert "0 of 21" in result.stdout
