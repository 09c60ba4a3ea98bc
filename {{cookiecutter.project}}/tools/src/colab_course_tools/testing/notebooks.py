"""Notebooks for tests: lessons built from a few cells, edits saved as Jupyter saves them, Colab's leftovers."""

from __future__ import annotations

from pathlib import Path

from .. import notebooks


def lesson_notebook(*cells, parameters: str | None = None, kernelspec: dict | None = None) -> dict:
    """A notebook of code cells (``("md", text)`` for markdown, ``("raw", text)`` for raw, ``(["tag"], code)``
    for tagged code),
    with a tagged parameters cell first."""
    built = []
    if parameters is not None:
        built.append(notebooks.code_cell(parameters, id="parameters", tags=[notebooks.PARAMETERS_TAG]))
    for index, cell in enumerate(cells):
        if isinstance(cell, tuple) and isinstance(cell[0], list):
            built.append(notebooks.code_cell(cell[1], id=f"cell-{index}", tags=cell[0]))
        elif isinstance(cell, tuple) and cell[0] == "raw":
            built.append({"cell_type": "raw", "id": f"cell-{index}", "metadata": {}, "source": cell[1]})
        elif isinstance(cell, tuple):
            built.append(notebooks.markdown_cell(cell[1], id=f"cell-{index}"))
        else:
            built.append(notebooks.code_cell(cell, id=f"cell-{index}"))
    metadata = {"kernelspec": dict(kernelspec or notebooks.KERNELSPEC), "language_info": {"name": "python"}}
    return {"cells": built, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write_notebook(path: Path, *cells, parameters: str | None = None, kernelspec: dict | None = None) -> Path:
    """Write ``lesson_notebook(...)`` to ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    notebooks.write_notebook(path, lesson_notebook(*cells, parameters=parameters, kernelspec=kernelspec))
    return path


def edit_notebook(path: Path, change) -> None:
    """Change a notebook in memory (cell sources as strings) and save it the way Jupyter does."""
    notebook = notebooks.read_notebook(path)
    change(notebook)
    notebooks.write_notebook(path, notebook)


def tagged_cell(notebook: dict, tag: str) -> dict:
    return next(cell for cell in notebooks.cells(notebook) if notebooks.has_tag(cell, tag))


def add_output(cell: dict) -> None:
    """What running a cell in Colab leaves behind: an output, an execution count, Colab's cell metadata."""
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
    cell["execution_count"] = 7
    cell["metadata"].update(colab={"base_uri": "https://localhost:8080/"}, outputId="0f1e2d3c")
