"""What a lesson notebook looks like: the shared setup cell, tags, metadata, and byte-stable I/O.

Standard library only: the post-generation hook imports this module from the freshly
generated ``src/`` with cookiecutter's interpreter, before any dependency is installed.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import atomic
from .errors import CourseError

SETUP_TAG = "setup"
PARAMETERS_TAG = "parameters"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

# The setup cell; {placeholders} are filled by setup_cell_source(), {{ }} are literal braces.
_SETUP_CELL = '''\
# @title {title} · setup (run me first) {{ display-mode: "form" }}
import os, subprocess, sys
from pathlib import Path
try:
    from google.colab import drive  # importable only in Colab
except ImportError:
    drive = None
kaggle = "KAGGLE_KERNEL_RUN_TYPE" in os.environ
if drive:  # Colab: the course lives on your Google Drive, so your work survives a runtime reset
    mount = Path(os.environ.get("COURSE_DRIVE_MOUNT", "/content/drive"))
    if not (mount / "MyDrive").is_dir():
        drive.mount(str(mount))
    root = mount / "MyDrive" / {drive_folder}
elif kaggle:
    root = Path("/kaggle/working") / {repo_name}
else:  # your computer: the repository this notebook is in
    here = Path.cwd()
    root = Path(os.environ.get("COURSE_ROOT") or next((p for p in (here, *here.parents) if (p / "pyproject.toml").is_file()), here))
if drive or kaggle:  # copy the course the first time, update it later (git refuses to overwrite your edits)
    update, url = (root / ".git").is_dir(), os.environ.get("COURSE_REPO_URL", {repo_url})
    git = ["-C", str(root), "pull", "--quiet", "--ff-only"] if update else ["clone", "--quiet", "--branch", {branch}, url, str(root)]
    done = subprocess.run(["git", *git], capture_output=True, text=True)
    reason = [line for line in done.stderr.splitlines() if not line.startswith("hint:")] or ["git failed"]
    if done.returncode:
        print("Course not updated, your copy is kept:" if update else "Could not copy the course:", reason[0])
if not (root / "src" / {package}).is_dir():
    raise SystemExit(f"No course code in {{root}}: " + ("see git's message above" if drive or kaggle else "open the notebook inside the course folder, or set COURSE_ROOT to it"))
if str(root / "src") not in sys.path:
    sys.path.insert(0, str(root / "src"))
import {package_name} as course
course.setup(root)
'''


def _literal(text: str) -> str:
    """A double-quoted Python string literal (JSON string syntax is valid Python when non-ASCII stays raw)."""
    return json.dumps(text, ensure_ascii=False)


def setup_cell_source(config) -> str:
    """The setup cell every lesson starts with, for this course's ``[tool.course]`` values."""
    return _SETUP_CELL.format(
        title=" ".join(config.title.split()),  # one line: it is the Colab form title
        drive_folder=_literal(config.drive_folder),
        repo_name=_literal(config.github_repo),
        branch=_literal(config.branch),
        repo_url=_literal(config.repo_url),
        package=_literal(config.package),
        package_name=config.package,
    ).rstrip("\n")


def _lines(source: str) -> list[str]:
    """Cell source as nbformat stores it on disk: a list of lines that keep their newlines."""
    return source.splitlines(keepends=True)


def setup_cell(config) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": SETUP_TAG,
        "metadata": {"cellView": "form", "tags": [SETUP_TAG]},
        "outputs": [],
        "source": _lines(setup_cell_source(config)),
    }


def code_cell(source: str, *, id: str, tags: list[str] | None = None) -> dict:
    metadata = {"tags": list(tags)} if tags else {}
    return {"cell_type": "code", "execution_count": None, "id": id, "metadata": metadata,
            "outputs": [], "source": _lines(source)}


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


DEFAULT_PARAMETERS = '''\
# Parameters: `course test --smoke` and CI replace these (papermill) with tiny, fast values.
smoke = False  # True: a few batches only, to check that everything runs
epochs = 3
batch_size = 64
seed = 42
device = "auto"  # "auto", "cpu" or "cuda"'''


def new_lesson(config, title: str) -> dict:
    """A skeleton lesson: setup cell, title, parameters cell, a first section to fill in."""
    heading = " ".join(title.split())
    return new_notebook([
        setup_cell(config),
        markdown_cell(f"# {heading}\n\nWhat you will learn, in two or three sentences.", id="title"),
        code_cell(DEFAULT_PARAMETERS, id=PARAMETERS_TAG, tags=[PARAMETERS_TAG]),
        markdown_cell("## First step\n\nExplain the idea, then show it in code.", id="first-step"),
        code_cell("", id="first-step-code"),
    ])


def read_notebook(path: Path) -> dict:
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CourseError(f"cannot read notebook {path} ({error}): restore it with `git checkout -- {path}`") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise CourseError(f"{path} is not a Jupyter notebook (no cell list): restore it from git")
    for cell in nb["cells"]:  # on disk a source may be a list of lines; in memory it is one string
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def notebook_bytes(nb: dict) -> bytes:
    """Exactly what ``nbformat.write`` produces, so saving from Jupyter or from here gives no diff."""
    on_disk = dict(nb, cells=[_split_source(cell) for cell in nb["cells"]])
    return (json.dumps(on_disk, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _split_source(cell: dict) -> dict:
    source = cell.get("source", "")
    return dict(cell, source=_lines(source) if isinstance(source, str) else source)


def write_notebook(path: Path, nb: dict) -> None:
    """Write atomically: a crash mid-write leaves the old notebook, never half a file."""
    atomic.write_bytes(Path(path), notebook_bytes(nb))


def cell_source(cell: dict) -> str:
    """A cell's code as one string (on disk it may be a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def has_tag(cell: dict, tag: str) -> bool:
    """Tolerates the malformed metadata `course check` must report rather than crash on."""
    metadata = cell.get("metadata")
    tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
    return isinstance(tags, list) and tag in tags


def sync_setup_cells(lessons_dir: Path, config) -> list[Path]:
    """Make cell 1 of every lesson the canonical setup cell; return the notebooks that changed.

    A lesson whose first cell is not tagged ``setup`` gets the setup cell inserted before it.
    """
    expected = setup_cell_source(config)
    changed = []
    for path in sorted(Path(lessons_dir).glob("*.ipynb")):
        nb = read_notebook(path)
        cells = nb["cells"]
        if cells and has_tag(cells[0], SETUP_TAG):
            if cell_source(cells[0]) == expected and cells[0].get("cell_type") == "code":
                continue
            cells[0].update(cell_type="code", source=expected, outputs=[], execution_count=None)
        else:
            new = setup_cell(config)
            if any(cell.get("id") == new["id"] for cell in cells):
                new["id"] = f"{SETUP_TAG}-cell"
            cells.insert(0, dict(new, source=expected))
        write_notebook(path, nb)
        changed.append(path)
    return changed
