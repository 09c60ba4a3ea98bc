"""The notebook file format: how a lesson is read and written, its cells and every tag, and the parameters
cell (papermill's rule). Which files are lessons is ``lessons``; the setup cell is ``setup_cell``.

Every other module reads and writes notebooks through this one. Standard library only: the
template's post-generation hook imports it from a freshly generated course, before any
dependency is installed.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import atomic
from .errors import CourseError

# Every tag the course and its tools read, named once.
SETUP_TAG = "setup"
PARAMETERS_TAG = "parameters"  # papermill injects a run's values in a new cell after it
INJECTED_TAG = "injected-parameters"  # the cell papermill adds below the parameters cell
SKIP_TAG = "skip-execution"  # nbclient does not run the cell
RAISES_TAG = "raises-exception"  # nbclient lets the cell raise and goes on
BANNER_TAG = "papermill-error-cell-tag"  # the markdown cells papermill adds above a failure
HIDE_INPUT_TAG = "hide-input"  # on the course website (myst-nb), the cell's code is folded behind a toggle
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


# -- reading and writing --------------------------------------------------------------------------
class NotebookError(CourseError):
    """A file that cannot be read as a notebook; ``reason`` says why in a few words."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"cannot read notebook {path} ({reason}): restore it with `git checkout -- {path}`")
        self.path, self.reason = path, reason


def read_notebook(path: Path) -> dict:
    """A notebook as a dict whose cell sources are single strings; ``NotebookError`` if it is unreadable."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise NotebookError(path, f"not valid JSON (line {error.lineno}: {error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(path, str(error)) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(path, "not a Jupyter notebook: no list of cells")
    nb["cells"] = [dict(cell, source=cell_source(cell)) if isinstance(cell, dict) else cell for cell in nb["cells"]]
    return nb


def notebook_bytes(nb: dict) -> bytes:
    """Exactly what ``nbformat.write`` produces, so saving from Jupyter or from here gives no diff."""
    on_disk = dict(nb, cells=[_split_source(cell) for cell in nb["cells"]])
    return (json.dumps(on_disk, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def write_notebook(path: Path, nb: dict) -> None:
    """Write atomically: a crash mid-write leaves the old notebook, never half a file."""
    atomic.write_bytes(Path(path), notebook_bytes(nb))


def _split_source(cell: dict) -> dict:
    source = cell.get("source", "")
    return dict(cell, source=_lines(source) if isinstance(source, str) else source)


def _lines(source: str) -> list[str]:
    """Cell source as nbformat stores it on disk: a list of lines that keep their newlines."""
    return source.splitlines(keepends=True)


# -- cells ----------------------------------------------------------------------------------------
def cells(nb: dict) -> list[dict]:
    """The notebook's cells, skipping anything malformed that `course check` reports instead."""
    found = nb.get("cells") if isinstance(nb, dict) else None
    return [cell for cell in found if isinstance(cell, dict)] if isinstance(found, list) else []


def cell_source(cell: dict) -> str:
    """A cell's code as one string (on disk it may be a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def tags(cell: dict) -> list[str]:
    """The cell's tags; tolerates the malformed metadata `course check` must report rather than crash on."""
    metadata = cell.get("metadata")
    found = metadata.get("tags", []) if isinstance(metadata, dict) else []
    return [tag for tag in found if isinstance(tag, str)] if isinstance(found, list) else []


def has_tag(cell: dict, tag: str) -> bool:
    return tag in tags(cell)


def code_cell(source: str, *, id: str, tags: list[str] | None = None) -> dict:
    metadata = {"tags": list(tags)} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": id,
        "metadata": metadata,
        "outputs": [],
        "source": _lines(source),
    }


def markdown_cell(source: str, *, id: str) -> dict:
    return {"cell_type": "markdown", "id": id, "metadata": {}, "source": _lines(source)}


def notebook_metadata(*, gpu: bool = True) -> dict:
    """Kernel and Colab metadata; ``gpu`` asks Colab for a GPU runtime when the notebook opens."""
    colab = {"provenance": [], "toc_visible": True}
    metadata = {"colab": colab, "kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    if gpu:
        colab["gpuType"] = "T4"
        metadata["accelerator"] = "GPU"
    return metadata


def new_notebook(cells: list[dict], *, gpu: bool = True) -> dict:
    return {"cells": cells, "metadata": notebook_metadata(gpu=gpu), "nbformat": 4, "nbformat_minor": 5}


# -- the parameters cell (read by ``parameters``) ------------------------------------------------
def parameters_index(nb: dict) -> int | None:
    """Index of the parameters cell: papermill's own rule, the first cell tagged ``parameters`` of any
    type (papermill injects a run's values right after it); None if no cell has the tag."""
    return next((i for i, cell in enumerate(cells(nb)) if has_tag(cell, PARAMETERS_TAG)), None)


def parameters_cell(nb: dict) -> dict | None:
    """The parameters cell (``parameters_index``), or None."""
    index = parameters_index(nb)
    return None if index is None else cells(nb)[index]
