"""Where a command runs (Colab, Kaggle, CI, laptop) and which library versions it sees.

The tools' own copy of what they need from the course's ``environment.py`` (the tools never import
the course's package: either can be updated without the other).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys

VERSIONED_PACKAGES = ("torch", "torchvision", "fastai")


KAGGLE_VARIABLES = ("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


def runtime() -> str:
    """``"colab"``, ``"kaggle"``, ``"ci"`` or ``"local"``: decides where data and checkpoints live.

    Kaggle is asked first: its image is built on Colab's, so ``google.colab`` imports there too.
    """
    if any(os.environ.get(name) for name in KAGGLE_VARIABLES):
        return "kaggle"
    if os.environ.get("COLAB_RELEASE_TAG") or _importable("google.colab"):
        return "colab"
    if _flag(os.environ.get("CI")) or _flag(os.environ.get("GITHUB_ACTIONS")):
        return "ci"
    return "local"


def _importable(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # parent package missing or half-initialised
        return False


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def installed_versions(packages) -> dict[str, str | None]:
    """Installed version of each package (None if absent), from metadata without importing it."""
    from importlib import metadata  # not at the top: it would double the cost of `import <package>`

    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def versions() -> dict[str, str]:
    """Python and library versions, read from installed metadata without importing the libraries."""
    installed = installed_versions(VERSIONED_PACKAGES)
    return {"python": platform.python_version(), **{name: v or "not installed" for name, v in installed.items()}}
