"""Atomic file writes, used for everything the course writes, and ``read_json`` to read JSON back.

A crash, a killed kernel or a Colab reset mid-write leaves the old file or the new one, never half
of one (a log, ``append_line``, gets whole lines): the bytes go to a temporary file in the same
folder, are flushed to disk (Drive syncs what is on disk), and the file is renamed into place,
keeping the old file's permissions.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_open(path: Path, mode: str = "w"):
    """Open a temporary file that replaces ``path`` when the block ends without an exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    permissions = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        text = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, permissions)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_json(path: Path, data) -> None:
    """Indented JSON; values JSON cannot hold are written as their ``str()``."""
    write_text(path, json.dumps(data, indent=1, default=str) + "\n")


def append_line(path: Path, text: str) -> None:
    """``text`` and a newline appended in one write to a log many processes add to (``O_APPEND``: lines never
    interleave); a line cut short by a crash is the one a reader skips."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def read_json(path: Path) -> dict:
    """A JSON object from a file the course wrote; empty when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
