"""Google Drive pains in Colab: the mount, and sync duplicates such as ``utils (1).py``.

When Drive syncs an edited file while an older copy exists, it may keep both:
``utils.py`` and ``utils (1).py``. Python keeps importing ``utils.py`` and the edit
seems lost, so duplicates are reported with the exact files to delete. A copy whose
original is gone (``utils (1).py`` alone) is no better: nothing imports that name, so it is
reported with the name to give it back.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_MOUNT = "/content/drive"
# "name (N).ext" -> original "name.ext"; the extension may be compound ("data (1).tar.gz").
_DUPLICATE = re.compile(r"^(?P<stem>.+?) \((?P<number>\d+)\)(?P<suffix>(?:\.[^.\s()]+)*)$")
_SKIPPED_FOLDERS = {"__pycache__", ".git", ".ipynb_checkpoints", "node_modules"}


def mount_point() -> Path:
    """Where Drive is (or will be) mounted: ``COURSE_DRIVE_MOUNT`` or ``/content/drive``."""
    return Path(os.environ.get("COURSE_DRIVE_MOUNT") or DEFAULT_MOUNT)


def is_mounted(mount: Path | None = None) -> bool:
    """True when ``<mount>/MyDrive`` is there, i.e. ``drive.mount()`` has succeeded."""
    return ((mount or mount_point()) / "MyDrive").is_dir()


def original_of(path: Path) -> Path | None:
    """The file a Drive duplicate copies (``utils (1).py`` -> ``utils.py``), or None if not a duplicate name."""
    match = _DUPLICATE.match(path.name)
    if not match:
        return None
    return path.with_name(match["stem"] + match["suffix"])


def duplicates(folder: Path) -> list[Path]:
    """Drive sync copies under ``folder`` (recursively): every ``name (N).ext``, its original there or not."""
    found = []
    for current, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS and not d.startswith("."))
        found += [Path(current, name) for name in files if original_of(Path(current, name)) is not None]
    return sorted(found)


def duplicates_warning(found: list[Path], root: Path) -> str | None:
    """A message naming the copies to delete, and the lone ones to rename (paths relative to ``root``)."""

    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    beside = [shown(path) for path in found if original_of(path).is_file()]
    lone = [f"{shown(path)} -> {original_of(path).name}" for path in found if not original_of(path).is_file()]
    parts = []
    if beside:
        parts.append(
            f"Google Drive made duplicate copies that hide your edits: {', '.join(beside)}. Keep the up-to-date "
            "content in the original file, delete these copies, then restart the runtime."
        )
    if lone:
        parts.append(
            f"Google Drive renamed files, so nothing imports or opens them: rename them back ({', '.join(lone)})."
        )
    return " ".join(parts) or None
