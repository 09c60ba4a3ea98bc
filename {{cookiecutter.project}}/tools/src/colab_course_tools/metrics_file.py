"""Reading the metrics a lesson logged (``course.metrics.log_metrics`` writes them): the record of a run and its
headline metric, the one sweeps rank runs by.

The file's format is the contract between the course's ``metrics.py`` (the writer, in every lesson) and the tools.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import CourseError

FILE_NAME = "metrics.json"
# Words in a metric's name (split at "_", "-", ...) that mean smaller is better.
_LOWER_IS_BETTER_WORDS = {"loss", "error", "err", "mse", "mae", "rmse", "perplexity", "seconds", "time", "ms"}


def read_metrics(path: Path) -> dict:
    """The record written by ``log_metrics``; a run dir or the file itself. Empty record if none."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.exists():
        return {"headline": None, "lower_is_better": None, "latest": {}, "history": []}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CourseError(f"cannot read metrics {path} ({error}): delete the file and re-run the lesson") from None


def headline(record: dict) -> tuple[str | None, object, bool]:
    """``(name, value, lower_is_better)`` of a record's headline metric; ``(None, None, False)`` if none."""
    name = record.get("headline")
    if name is None:
        return None, None, False
    lower = record.get("lower_is_better")
    if lower is None:
        words = re.split(r"[^a-z0-9]+", name.lower())
        lower = any(word in _LOWER_IS_BETTER_WORDS or word.endswith("loss") for word in words)
    return name, record.get("latest", {}).get(name), bool(lower)
