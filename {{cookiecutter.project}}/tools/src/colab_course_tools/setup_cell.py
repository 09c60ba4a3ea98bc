"""The setup cell every lesson starts with, the same in each, made from the course's ``[tool.course]``: it
finds or copies the course (Drive in Colab, Kaggle's working folder, the repository on a laptop), puts its
``src/`` on the import path and calls the course's ``setup()``. Standard library only (the template's hook uses it).
"""

from __future__ import annotations

import json

from .notebooks import SETUP_TAG, code_cell

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
