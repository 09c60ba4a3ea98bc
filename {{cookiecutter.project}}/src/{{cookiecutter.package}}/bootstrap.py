"""``setup()``: the second half of every lesson's setup cell, once the course is on ``sys.path``.

The cell mounts Drive and copies the course the first time; ``setup`` brings the copy up to
date (Colab, Kaggle), installs what the runtime lacks, makes edits to ``src/`` take effect,
and says in one line where the lesson runs. Every step checks before acting, so rerunning
is cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import CourseError

_hinted = globals().get("_hinted", False)  # the Drive hint is shown once per kernel


def setup(root: Path | str | None = None, *, install: bool | None = None) -> None:
    """Prepare the runtime for a lesson and print one status line (and a line per thing to know).

    ``install``: add missing requirements with pip (default: only in Colab and Kaggle,
    where the runtime is fresh; locally you installed the course yourself).
    """
    from . import reloading
    from .config import find_root
    from .environment import runtime

    root = Path(root).resolve() if root else find_root()
    os.environ["COURSE_ROOT"] = str(root)  # Colab starts in /content: later lookups must not walk up from there
    where = runtime()
    reloading.changed_modules()  # what is loaded now, before an update changes the files
    if where in ("colab", "kaggle") and (root / ".git").is_dir():
        for line in _update(root, where):
            print(line)
        reloading.reload_changed()  # the new code runs from here on, this function's rest included
    _prepare(root, where, install)


def _update(root: Path, where: str) -> list[str]:
    from . import updates
    from .config import load_config

    return updates.update(root, load_config(root).branch, kaggle=where == "kaggle")


def _prepare(root: Path, where: str, install: bool | None) -> None:
    from .installer import install_missing

    if install if install is not None else where in ("colab", "kaggle"):
        install_missing(root)
    shell = _ipython()
    notes = []
    if shell is not None:
        notes += _follow_edits(shell)
        _show_course_errors_briefly(shell)
    notes += _drive_duplicate_notes(root)
    notes += _torch_notes()
    if where == "colab":
        notes += _drive_notes(root)
    print(status_line(root, where), *notes, sep="\n")


def describe() -> dict[str, str]:
    """Everything `course env` shows, as label -> value: runtime, device, Drive, versions, paths."""
    from . import drive
    from .environment import device_info, memory_gb, runtime, torch_pair_problem, versions

    rows = {"runtime": runtime(), "device": str(device_info())}
    problem = torch_pair_problem()
    if problem:
        rows["warning"] = problem
    ram = memory_gb()
    rows["memory"] = f"{ram:.1f} GB RAM" if ram else "unknown"
    if rows["runtime"] == "colab":
        rows["google drive"] = f"mounted at {drive.mount_point()}" if drive.is_mounted() else "not mounted"
    rows.update(versions())
    try:
        from .config import course_paths

        paths = course_paths()
    except CourseError as error:
        rows["course root"] = f"not found ({error})"
        return rows
    rows.update(
        {
            "course root": str(paths.root),
            "data cache": str(paths.data),
            "local data": str(paths.local_data),
            "checkpoints": str(paths.checkpoints),
            "build": str(paths.build),
        }
    )
    return rows


def status_line(root: Path, where: str) -> str:
    from .environment import device_info, memory_gb

    device = device_info()
    if device.kind == "cuda":
        memory = f" ({device.memory_gb:.0f} GB)" if device.memory_gb else ""
        shown = f"GPU {device.name}{memory}"
    else:
        shown = "CPU (no GPU: Runtime > Change runtime type)" if where == "colab" else "CPU"
    ram = memory_gb()
    ram = f" · {ram:.1f} GB RAM" if ram else ""
    from .config import course_paths

    return f"Course ready · {where} · {shown}{ram} · repo {root} · data {course_paths(root).data}"


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _follow_edits(shell) -> list[str]:
    """Edits to src/ take effect in the next cell, without a restart.

    IPython's autoreload where it loads; where it cannot (Colab's IPython 7.34 on Python 3.12
    and later), the course reloads its own changed modules (``reloading``).
    ``COURSE_AUTORELOAD=0`` leaves both off: batch runs (``course test``, ``course run``) set it,
    since nobody edits code during them, and with torch and fastai loaded autoreload's check
    before every cell walks hundreds of thousands of module attributes.
    """
    if os.environ.get("COURSE_AUTORELOAD") == "0":
        return []
    if shell.find_line_magic("autoreload") is not None:  # loaded already (by us or by hand)
        return []
    try:
        shell.run_line_magic("load_ext", "autoreload")
    except ImportError:  # e.g. an old IPython on a new Python (its autoreload imports `imp`)
        pass
    if shell.find_line_magic("autoreload") is None:
        from . import reloading

        reloading.watch(shell, after_reload=lambda: _show_course_errors_briefly(shell))
        return []
    shell.run_line_magic("autoreload", "2")
    return []


def _show_course_errors_briefly(shell) -> None:
    """A ``CourseError`` already says what went wrong and how to fix it: show that line, not a traceback.

    It still counts as an error, so papermill and ``course test`` stop at that cell.
    """

    def show(shell, etype, value, tb, tb_offset=None):
        line = f"\x1b[1;31m{etype.__name__}\x1b[0m: {value}"
        shell._showtraceback(etype, value, [line])
        return [line]

    shell.set_custom_exc((CourseError,), show)


def _drive_notes(root: Path) -> list[str]:
    """Where work is kept in Colab: on Drive (a hint, once per kernel), or nowhere when Drive is not mounted."""
    global _hinted
    from . import drive

    if not root.is_relative_to(drive.mount_point()):
        return [
            "Warning: the course is on this runtime's disk, not on Google Drive: your edits, downloads and "
            "checkpoints are lost when the runtime resets. Run the setup cell again and allow Drive access to keep them."
        ]
    if _hinted:
        return []
    _hinted = True
    return [
        f"Your lessons are in {root / 'lessons'} on Google Drive: open them from there (Drive > Open with > "
        "Google Colaboratory) and your edits are saved; a lesson opened from its badge on GitHub is a view that "
        "keeps nothing unless you use File > Save a copy in Drive."
    ]


def _torch_notes() -> list[str]:
    from .environment import torch_pair_problem

    problem = torch_pair_problem()
    return [f"Warning: {problem}; then restart the runtime (or the kernel)"] if problem else []


def _drive_duplicate_notes(root: Path) -> list[str]:
    from .drive import duplicates, duplicates_warning

    warning = duplicates_warning([path for folder in ("src", "lessons") for path in duplicates(root / folder)], root)
    return [f"Warning: {warning}"] if warning else []
