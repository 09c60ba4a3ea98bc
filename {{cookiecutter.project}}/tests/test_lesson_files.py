"""Lesson notebooks: valid, output-free, Colab-ready, with the one shared setup cell and a parameters cell."""

import ast
import json
import shutil

import nbformat
import pytest
from colab_course_tools import notebooks, parameters
from colab_course_tools.authoring.fixes import apply_fixes
from colab_course_tools.authoring.new_lesson import lesson_skeleton
from colab_course_tools.config import CourseConfig, load_config
from colab_course_tools.errors import CourseError
from colab_course_tools.lessons import lesson_files
from colab_course_tools.setup_cell import setup_cell_source

from conftest import ROOT

LESSONS = lesson_files(ROOT)
SNIPPETS = ROOT / "snippets" / "colab_snippets.ipynb"
REQUIRED_PARAMETERS = {"smoke", "epochs", "batch_size", "seed", "device"}
GPU_LESSONS = {"00_environment", "01_first_model", "02_data_and_checkpoints"}


def parameters_of(nb) -> dict:
    (cell,) = [c for c in nb.cells if notebooks.PARAMETERS_TAG in c.metadata.get("tags", [])]
    return parameters.parse_cell(cell.source).defaults


def test_the_course_has_lessons():
    assert LESSONS, "lessons/ has no notebooks"


@pytest.mark.parametrize("path", [*LESSONS, SNIPPETS], ids=lambda p: p.name)
def test_notebook_is_valid_clean_and_colab_ready(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), "cells need ids (nbformat 4.5)"
    assert nb.metadata.kernelspec.name == "python3"
    assert "colab" in nb.metadata
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {index} has outputs: strip them"
    assert path.read_bytes() == notebooks.notebook_bytes(notebooks.read_notebook(path)), (
        "not saved in the canonical format: run `course sync`"
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_starts_with_the_canonical_setup_cell(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert notebooks.SETUP_TAG in first.metadata.get("tags", [])
    assert first.source == setup_cell_source(load_config(ROOT)), f"{path.name}: run `course sync`"


def test_setup_cells_are_identical_in_every_lesson():
    sources = {path.name: nbformat.read(path, as_version=4).cells[0].source for path in LESSONS}
    assert len(set(sources.values())) == 1, f"setup cells differ: {sorted(sources)}; run `course sync`"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_has_a_parameters_cell_with_the_shared_names(path):
    nb = nbformat.read(path, as_version=4)
    names = parameters_of(nb)
    assert REQUIRED_PARAMETERS <= set(names), f"missing parameters: {REQUIRED_PARAMETERS - set(names)}"
    assert names["device"] in ("auto", "cpu", "cuda")
    if any("course.data.download(" in cell.source for cell in nb.cells):
        assert {"data_url", "data_sha256"} <= set(names), "a lesson that downloads takes data_url and data_sha256"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_gpu_request_is_complete(path):
    """Colab opens a lesson with `accelerator: GPU` on a GPU runtime; the shipped lessons all want one."""
    metadata = nbformat.read(path, as_version=4).metadata
    wants_gpu = path.stem in GPU_LESSONS or "accelerator" in metadata
    if wants_gpu:
        assert metadata.get("accelerator") == "GPU" and metadata.colab.get("gpuType"), (
            "set accelerator and colab.gpuType"
        )


def test_setup_cell_is_short_and_valid_python():
    source = setup_cell_source(load_config(ROOT))
    compile(source, "setup cell", "exec")
    assert len(source.splitlines()) <= 36  # mount (and remount), clone once, import: the rest is in setup()


def test_setup_cell_keeps_any_title_and_values_intact():
    config = CourseConfig(
        title='Курс «глубокого» обучения: "ML" 深度学习 \\ it\'s {x}',
        package="kurs",
        github_user="someone",
        github_repo="kurs",
        branch="main",
        drive_folder='courses/it\'s "mine"',
    )
    source = setup_cell_source(config)
    assert source.splitlines()[0] == (f"# @title {config.title} · setup (run me first) " + '{ display-mode: "form" }')
    strings = {node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Constant)}
    assert config.drive_folder in strings and config.repo_url in strings


def test_setup_cell_title_is_one_line():
    config = CourseConfig("Two\nlines", "kurs", "someone", "kurs", "main", "courses/kurs")
    assert setup_cell_source(config).splitlines()[0].startswith("# @title Two lines · setup")


def test_write_notebook_writes_what_nbformat_writes(tmp_path):
    for path in [*LESSONS, SNIPPETS]:
        ours, theirs = tmp_path / "ours.ipynb", tmp_path / "theirs.ipynb"
        notebooks.write_notebook(ours, notebooks.read_notebook(path))
        nbformat.write(nbformat.read(path, as_version=4), theirs)
        assert ours.read_bytes() == theirs.read_bytes(), path.name


def test_fixes_restore_edited_and_deleted_setup_cells_byte_for_byte(tmp_path):
    config = load_config(ROOT)
    course = tmp_path / "course"
    (course / "lessons").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, course / name)
    edited, missing, untouched = (course / "lessons" / f"{n:02d}_{LESSONS[0].name[3:]}" for n in (1, 2, 3))
    for path in (edited, missing, untouched):
        shutil.copy(LESSONS[0], path)
    nb = notebooks.read_notebook(edited)
    nb["cells"][0]["source"] = "print('old setup')"
    notebooks.write_notebook(edited, nb)
    nb = notebooks.read_notebook(missing)
    del nb["cells"][0]
    notebooks.write_notebook(missing, nb)
    before = untouched.stat().st_mtime_ns

    apply_fixes(course, config)

    for path in (edited, missing, untouched):
        assert path.read_bytes() == LESSONS[0].read_bytes(), path.name
    assert untouched.stat().st_mtime_ns == before, "an unchanged notebook is not written again"


def test_new_lesson_is_a_valid_notebook_with_setup_and_parameters(tmp_path):
    path = tmp_path / "03_new.ipynb"
    notebooks.write_notebook(path, lesson_skeleton(load_config(ROOT), "Convolutions", 3))
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].source == setup_cell_source(load_config(ROOT))
    assert REQUIRED_PARAMETERS <= set(parameters_of(nb))
    assert nb.cells[1].source.startswith("# 03 · Convolutions\n")
    assert parameters.parse_cell(nb.cells[2].source).smoke == {"epochs": 1}


def test_unreadable_notebook_is_one_clear_error(tmp_path):
    broken = tmp_path / "01_broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(CourseError, match="01_broken.ipynb.*restore it"):
        notebooks.read_notebook(broken)
    broken.write_text(json.dumps(["not", "a", "notebook"]))
    with pytest.raises(CourseError, match="not a Jupyter notebook"):
        notebooks.read_notebook(broken)


def test_snippets_are_titled_sections_with_code():
    cells = nbformat.read(SNIPPETS, as_version=4).cells
    titles = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and cell.source.startswith("# ")]
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    for index in titles[1:]:  # the first section only explains how to register the notebook
        assert cells[index + 1].cell_type == "code", f"snippet {cells[index].source.splitlines()[0]!r} has no code"
        compile(cells[index + 1].source, cells[index].source.splitlines()[0], "exec")
    for needed in ("drive.mount", "cuda", "files.download", "files.upload", "fit_resumable", "userdata.get"):
        assert needed in code, f"no snippet uses {needed}"
