"""Course code shared by every lesson: the course's own package, the teacher's to extend.

Importing this package must stay cheap (no torch or fastai at import time): the setup cell
imports it on every run. Submodules load on first attribute access, so lessons can write
``course.data.download(...)`` after ``import <package> as course``. The template's modules
(``bootstrap``, ``environment``, ``drive``, ``data``, ``checkpoints``, ``metrics``, ``exercises``, ...)
sit beside the teacher's own, which need no registration. The `course` command and everything
that tests, publishes and grades the course are the tools' (``tools/``), never imported here.
"""

import importlib

from .errors import CourseError

__version__ = "0.1.0"
__all__ = ["CourseError", "describe", "setup"]


def __getattr__(name):
    if name in ("setup", "describe"):  # lazy too: pathlib and dataclasses alone would double the import time
        return getattr(importlib.import_module(".bootstrap", __name__), name)
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
