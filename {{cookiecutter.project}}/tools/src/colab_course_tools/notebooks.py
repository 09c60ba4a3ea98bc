"""The notebook vocabulary: which files are lessons, how a lesson is read and written, its cells and tags,
the shared setup cell, and the parameters cell.

Every other module reads and writes notebooks through this one. Standard library only: the
template's post-generation hook imports it from a freshly generated course, before any
dependency is installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import atomic
from .drive import original_of
from .errors import CourseError
from .formatting import closest

# Every tag the course and its tools read, named once.
SETUP_TAG = "setup"
PARAMETERS_TAG = "parameters"  # papermill injects a run's values in a new cell after it
INJECTED_TAG = "injected-parameters"  # the cell papermill adds below the parameters cell
SKIP_TAG = "skip-execution"  # nbclient does not run the cell
RAISES_TAG = "raises-exception"  # nbclient lets the cell raise and goes on
BANNER_TAG = "papermill-error-cell-tag"  # the markdown cells papermill adds above a failure
HIDE_INPUT_TAG = "hide-input"  # on the course website (myst-nb), the cell's code is folded behind a toggle
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LESSON_NAME = re.compile(r"(?P<number>\d{2,})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.ipynb")


# -- which files are lessons -------------------------------------------------------------------
def lesson_files(root: Path, *, strict: bool = False) -> list[Path]:
    """The notebooks in ``<root>/lessons``, in order.

    Hidden files and Google Drive copies (``01_intro (1).ipynb`` beside ``01_intro.ipynb``) are
    never lessons. ``strict`` keeps only well-named ones (``NN_slug.ipynb``): those the README lists.
    """
    folder = Path(root) / "lessons"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.ipynb")):
        copied = original_of(path)
        if path.name.startswith(".") or (copied is not None and copied.is_file()):
            continue
        if strict and not LESSON_NAME.fullmatch(path.name):
            continue
        found.append(path)
    return found


def lesson_number(path: Path) -> int | None:
    """The ``NN`` of ``NN_slug.ipynb``; None for a name that does not follow the pattern."""
    match = LESSON_NAME.fullmatch(Path(path).name)
    return int(match["number"]) if match else None


def resolve_lessons(root: Path, names) -> list[Path]:
    """Lesson files for names such as ``1``, ``01``, ``01_first_model`` or ``lessons/01_first_model.ipynb``.

    No names means every lesson. An unknown or ambiguous name raises ``CourseError`` listing the lessons.
    """
    lessons = lesson_files(root)
    if not names:
        return lessons
    chosen: list[Path] = []
    for name in names:
        matches = _matching(lessons, str(name), Path(root))
        if len(matches) != 1:
            available = ", ".join(p.stem for p in lessons) or "none (lessons/ is empty)"
            problem = "is ambiguous" if matches else "is not a lesson"
            guess = None if matches else closest(Path(str(name)).name.removesuffix(".ipynb"), [p.stem for p in lessons])
            hint = f" (did you mean {guess}?)" if guess else ""
            raise CourseError(
                f"{name!r} {problem}{hint}: give a number, name or file of one of the lessons: {available}"
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _matching(lessons: list[Path], name: str, root: Path) -> list[Path]:
    as_path = Path(name).expanduser()
    for candidate in (as_path, root / as_path, root / "lessons" / as_path):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return [p for p in lessons if p.resolve() == candidate.resolve()]
    stem = as_path.name.removesuffix(".ipynb")
    exact = [p for p in lessons if p.stem == stem]
    number = int(stem) if stem.isdigit() else None  # 1, 01 and 001 all name lesson 01
    return exact or [
        p for p in lessons if p.stem.split("_", 1)[0] == stem or (number is not None and lesson_number(p) == number)
    ]


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


# -- the setup cell ------------------------------------------------------------------------------
# {placeholders} are filled by setup_cell_source(), {{ }} are literal braces.
_SETUP_CELL = """\
# @title {title} · setup (run me first) {{ display-mode: "form" }}
import os, subprocess, sys
from pathlib import Path
kaggle = bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or os.environ.get("KAGGLE_URL_BASE"))
try:
    from google.colab import drive  # Colab (Kaggle's image has it too)
except ImportError:
    drive = None
if kaggle:
    root = Path(os.environ.get("COURSE_KAGGLE_WORKING", "/kaggle/working")) / {repo_name}
elif drive:  # Colab: the course lives on your Google Drive, so your work survives a runtime reset
    mount = Path(os.environ.get("COURSE_DRIVE_MOUNT", "/content/drive"))
    try:
        os.listdir(mount / "MyDrive")  # fails when not mounted, or when the mount dropped
    except OSError as gone:
        try:
            drive.mount(str(mount), force_remount=not isinstance(gone, FileNotFoundError))
        except Exception as refused:  # access not given, timed out, ...
            print(f"Google Drive is not mounted ({{refused}}): this runtime's disk is used instead. Run this cell again to retry.")
    root = mount / "MyDrive" / {drive_folder} if os.path.isdir(mount / "MyDrive") else mount.parent / {repo_name}
else:  # your computer: the repository this notebook is in
    here = Path.cwd()
    root = Path(os.environ.get("COURSE_ROOT") or next((p for p in (here, *here.parents) if (p / "pyproject.toml").is_file()), here))
if (kaggle or drive) and not (root / ".git").is_dir():  # copy the course the first time; setup() updates it later
    url = os.environ.get("COURSE_REPO_URL", {repo_url})
    done = subprocess.run(["git", "clone", "--quiet", "--branch", {branch}, url, str(root)], capture_output=True, text=True)
    if done.returncode:
        reason = [line for line in done.stderr.splitlines() if not line.startswith("hint:")] or ["git failed"]
        print("Could not copy the course:", reason[0] + (" (Kaggle: turn on Settings > Internet)" if kaggle else ""))
if not (root / "src" / {package}).is_dir():
    raise SystemExit(f"No course code in {{root}}: " + ("see git's message above" if drive or kaggle else "open the notebook inside the course folder, or set COURSE_ROOT to it"))
if str(root / "src") not in sys.path:
    sys.path.insert(0, str(root / "src"))
import {package_name} as course
course.setup(root)
"""


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


def setup_cell(config) -> dict:
    cell = code_cell(setup_cell_source(config), id=SETUP_TAG, tags=[SETUP_TAG])
    cell["metadata"]["cellView"] = "form"
    return cell


# -- the parameters cell (read by ``parameters``) ------------------------------------------------
def parameters_index(nb: dict) -> int | None:
    """Index of the parameters cell: papermill's own rule, the first cell tagged ``parameters`` of any
    type (papermill injects a run's values right after it); None if no cell has the tag."""
    return next((i for i, cell in enumerate(cells(nb)) if has_tag(cell, PARAMETERS_TAG)), None)


def parameters_cell(nb: dict) -> dict | None:
    """The parameters cell (``parameters_index``), or None."""
    index = parameters_index(nb)
    return None if index is None else cells(nb)[index]
