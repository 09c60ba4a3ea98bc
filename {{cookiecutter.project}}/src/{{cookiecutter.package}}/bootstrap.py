"""``setup()``: the second half of every lesson's setup cell, once the course is on ``sys.path``.

The cell finds (or clones) the repo; ``setup`` makes the runtime ready for the lesson and
says in one line where it runs. Every step checks before acting, so rerunning is cheap.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .config import course_paths, find_root
from .errors import CourseError

# Colab and Kaggle ship torch builds that match their CUDA, and an ipykernel their notebook
# front end talks to; a pip upgrade would replace them and force a runtime restart (or cut
# the notebook off), so these are installed only when entirely absent, and pinned otherwise.
NEVER_REINSTALL = ("torch", "torchvision", "torchaudio", "ipykernel")


def setup(root: Path | str | None = None, *, install: bool | None = None) -> None:
    """Prepare the runtime for a lesson and print one status line.

    ``install``: add missing requirements with pip (default: only in Colab and Kaggle,
    where the runtime is fresh; locally you installed the course yourself).
    """
    from .environment import runtime

    root = Path(root).resolve() if root else find_root()
    os.environ["COURSE_ROOT"] = str(root)  # Colab starts in /content: later lookups must not walk up from there
    where = runtime()
    if install if install is not None else where in ("colab", "kaggle"):
        install_missing(root)
    shell = _ipython()
    notes = []
    if shell is not None:
        notes += _enable_autoreload(shell)
        _show_course_errors_briefly(shell)
    notes += _drive_duplicate_notes(root)
    print(status_line(root, where), *notes, sep="\n")


def describe() -> dict[str, str]:
    """Everything `course env` shows, as label -> value: runtime, device, Drive, versions, paths."""
    from . import drive
    from .environment import device_info, runtime, versions

    rows = {"runtime": runtime(), "device": str(device_info())}
    if rows["runtime"] == "colab":
        rows["google drive"] = f"mounted at {drive.mount_point()}" if drive.is_mounted() else "not mounted"
    rows.update(versions())
    try:
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


def cli_env(args) -> int:
    """`course env`: print runtime, device, versions and paths as a two-column table."""
    rows = describe()
    width = max(map(len, rows))
    for label, value in rows.items():
        print(f"{label.ljust(width)}  {value}")
    return 0


def status_line(root: Path, where: str) -> str:
    from .environment import device_info

    device = device_info()
    if device.kind == "cuda":
        memory = f" ({device.memory_gb:.0f} GB)" if device.memory_gb else ""
        shown = f"GPU {device.name}{memory}"
    else:
        shown = "CPU (no GPU: Runtime > Change runtime type)" if where == "colab" else "CPU"
    return f"Course ready · {where} · {shown} · repo {root} · data {course_paths(root).data}"


def missing_requirements(root: Path) -> list[str]:
    """Requirements of ``[project].dependencies`` that are absent or too old (``NEVER_REINSTALL`` only if absent)."""
    import importlib.metadata  # not at the top: it would double the cost of `import <package>`

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    missing = []
    for text in _dependencies(root):
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(text)
            continue
        protected = canonicalize_name(requirement.name) in NEVER_REINSTALL
        if not protected and not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def install_missing(root: Path) -> list[str]:
    """pip-install what is missing in one call, pinning the runtime's own builds; no call if nothing is missing."""
    missing = missing_requirements(root)
    if not missing:
        return []
    import subprocess
    import tempfile

    from .environment import installed_versions

    print("Installing what this runtime lacks:", ", ".join(missing))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        installed = installed_versions(NEVER_REINSTALL).items()
        pins.write("".join(f"{name}=={version}\n" for name, version in installed if version))
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--constraint", pins.name, *missing])
    finally:
        os.unlink(pins.name)
    if done.returncode:
        raise CourseError(
            f"pip could not install {', '.join(missing)} (see its message above): "
            "check the internet connection (Kaggle: Settings > Internet on) and rerun the setup cell"
        )
    return missing


def _dependencies(root: Path) -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    pyproject = root / "pyproject.toml"
    try:
        return list(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise CourseError(
            f"cannot read [project].dependencies from {pyproject} ({error}): restore it from git"
        ) from None


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _enable_autoreload(shell) -> list[str]:
    """Edits to src/ take effect in the next cell, without a restart. Returns a note if that is impossible.

    ``COURSE_AUTORELOAD=0`` leaves it off: batch runs (``course test``, ``course run``) set it,
    since nobody edits code during them, and with torch and fastai loaded the check before
    every cell walks hundreds of thousands of module attributes.
    """
    if os.environ.get("COURSE_AUTORELOAD") == "0":
        return []
    if shell.find_line_magic("autoreload") is not None:  # loaded already (by us or by hand)
        return []
    try:
        shell.run_line_magic("load_ext", "autoreload")
    except ImportError as error:  # e.g. an old IPython on a new Python (its autoreload imports `imp`)
        return [f"Note: autoreload is unavailable ({error}); restart the runtime after editing src/."]
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


def _drive_duplicate_notes(root: Path) -> list[str]:
    from .drive import duplicates, duplicates_warning

    warning = duplicates_warning([path for folder in ("src", "lessons") for path in duplicates(root / folder)], root)
    return [f"Warning: {warning}"] if warning else []
