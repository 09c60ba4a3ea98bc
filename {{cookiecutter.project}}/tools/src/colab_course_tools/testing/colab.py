"""A stand-in for ``google.colab`` (Drive mounting and its failures), for kernels under test."""

from __future__ import annotations

from pathlib import Path

_FAKE_COLAB_INIT = '''"""Stand-in for google.colab. A mount marked dropped (<mount>/.dropped) fails like a dead FUSE mount."""
import errno, os

_listdir = os.listdir


def _listdir_like_colab(path="."):
    path = os.fspath(path)
    if os.path.basename(path) == "MyDrive" and os.path.exists(os.path.join(os.path.dirname(path), ".dropped")):
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected", path)
    return _listdir(path)


os.listdir = _listdir_like_colab
'''
_FAKE_MESSAGE = '''"""Stand-in for google.colab._message."""


class MessageError(RuntimeError):
    pass
'''
_FAKE_DRIVE = '''"""Stand-in for google.colab.drive: mount() creates <mountpoint>/MyDrive, or fails as FAKE_COLAB_DRIVE says."""
import os
from pathlib import Path

from google.colab._message import MessageError

MOUNTS = []  # (mountpoint, force_remount) of every call
FAILURES = {  # Colab's own messages
    "refuse": lambda: ValueError("mount failed"),
    "timeout": lambda: ValueError(
        "mount failed: timeout during initial read of root folder; for more info: "
        "https://research.google.com/colaboratory/faq.html#drive-timeout"
    ),
    "credentials": lambda: MessageError("Error: credential propagation was unsuccessful"),
}


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    MOUNTS.append((mountpoint, force_remount))
    failure = FAILURES.get(os.environ.get("FAKE_COLAB_DRIVE", ""))
    if failure is not None:
        raise failure()
    if force_remount:
        (Path(mountpoint) / ".dropped").unlink(missing_ok=True)
    (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)
'''


def write_fake_colab(folder: Path) -> Path:
    """A ``google.colab`` package in ``folder`` (``google`` stays a namespace package); put ``folder`` on
    the kernel's ``PYTHONPATH``. ``FAKE_COLAB_DRIVE=refuse|timeout|credentials`` makes ``drive.mount``
    fail with Colab's messages; a file ``<mount>/.dropped`` makes the mount fail like a dropped one.
    """
    package = Path(folder) / "google" / "colab"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_FAKE_COLAB_INIT, encoding="utf-8")
    (package / "_message.py").write_text(_FAKE_MESSAGE, encoding="utf-8")
    (package / "drive.py").write_text(_FAKE_DRIVE, encoding="utf-8")
    return Path(folder)
