"""Google Drive's sync duplicates such as ``utils (1).py``: which file a copy copies, and every copy in a folder.

The tools' copy of these rules from the course's ``drive.py`` (``course check`` names the copies, and
``course grade`` knows a renamed submission by them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# "name (N).ext" -> original "name.ext"; the extension may be compound ("data (1).tar.gz").
_DUPLICATE = re.compile(r"^(?P<stem>.+?) \((?P<number>\d+)\)(?P<suffix>(?:\.[^.\s()]+)*)$")
_SKIPPED_FOLDERS = {"__pycache__", ".git", ".ipynb_checkpoints", "node_modules"}


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
