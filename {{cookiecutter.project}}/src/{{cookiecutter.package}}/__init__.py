"""Course code shared by every lesson.

Importing this package must stay cheap (no torch or fastai at import time): the
setup cell imports it on every run. Submodules load on first attribute access,
so lessons can write ``course.data.download(...)`` after ``import <package> as course``.
"""
import importlib

from .errors import CourseError

__version__ = "0.1.0"
__all__ = ["setup", "CourseError"]

_LAZY_SUBMODULES = {
    "authoring",
    "bootstrap",
    "checkpoints",
    "config",
    "data",
    "drive",
    "environment",
    "experiments",
    "harness",
    "lesson_format",
    "metrics",
}


def __getattr__(name):
    if name == "setup":  # lazy too: pathlib and dataclasses alone would double the import time
        return importlib.import_module(".bootstrap", __name__).setup
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
