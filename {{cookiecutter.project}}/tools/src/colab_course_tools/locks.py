"""Locks between processes of one machine, keyed by a path: one download of a file, one execution of a run.

The lock file lives on local disk, never beside the path itself: Google Drive's file system in
Colab may not support locks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def path_lock(kind: str, path: Path):
    """A ``filelock.FileLock`` that every process on this machine shares for ``path`` (``kind`` names its use)."""
    from filelock import FileLock

    key = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:16]
    return FileLock(os.path.join(tempfile.gettempdir(), f"course-{kind}-{key}.lock"))
