"""Metrics a lesson records, so `course run`, `course sweep` and `course runs` can compare runs.

A lesson calls ``course.metrics.log_metrics(accuracy=0.93, headline="accuracy")`` once at the
end, or once per epoch (``log_metrics(epoch=2, valid_loss=0.31)``). Every call is merged into
one JSON file:

``{"headline": "accuracy", "lower_is_better": false,
   "latest": {"epoch": 2, "valid_loss": 0.31, "accuracy": 0.93},
   "history": [{"epoch": 0, ...}, {"epoch": 1, ...}, ...]}``

``latest`` holds the last value logged under each name; ``history`` every call in order.
A call that logs the headline metric without a counter (``epoch``/``step``/``iteration``) is the final one: it
prints how the value compares with the course's runs (``bands``), e.g. "within the course's runs: accuracy 0.95,
expected 0.93 to 0.97 (smoke-cpu)".
The headline metric (the one sweeps rank runs by) is the one named by ``headline=`` in any call,
else the first name logged other than ``epoch``/``step``/``iteration``. Whether lower is better is
``lower_is_better=`` if given, else guessed from the name (loss, error, ... are minimised).

The file is ``$COURSE_RUN_DIR/metrics.json`` when the lesson runs under `course run`;
otherwise ``build/metrics/<notebook or "session">-<time of the first call>-<pid>.json``,
one file per kernel, so runs started by hand never mix with each other.

Beside it, for the tools teachers already use: ``metrics.csv`` (``<name>.csv``), the history with
one row per call, for a spreadsheet; and, when TensorBoard is installed (``pip install tensorboard``),
its scalars in ``tensorboard/`` (``tensorboard/<name>/``), one point per call at the call's
``epoch``/``step``/``iteration`` (else its number), so ``tensorboard --logdir build`` shows every run live.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import numbers
import os
import time
from pathlib import Path

from .atomic import write_json, write_text
from .errors import CourseError

FILE_NAME = "metrics.json"
_COUNTERS = ("epoch", "step", "iteration")
_session_file: Path | None = None
_tensorboard_writers: dict = {}  # folder -> TensorBoard writer, one per kernel


def log_metrics(*, headline: str | None = None, lower_is_better: bool | None = None, **values) -> Path:
    """Merge ``values`` into this run's metrics file and return its path.

    Numbers from numpy or torch (scalars, one-element tensors) are converted to plain Python;
    anything that cannot be stored as JSON raises ``CourseError`` naming the metric.
    """
    if not values and headline is None:
        raise CourseError("log_metrics() got no values: call it as log_metrics(accuracy=0.93)")
    if headline is not None and not isinstance(headline, str):
        raise CourseError(f"log_metrics(headline=...) must be a metric name, got {headline!r}")
    entry = {name: _plain(name, value) for name, value in values.items()}
    path = metrics_file()
    record = (
        read_metrics(path)
        if path.exists()
        else {"headline": None, "lower_is_better": None, "latest": {}, "history": []}
    )
    if headline is not None:
        record["headline"] = headline
    if lower_is_better is not None:
        record["lower_is_better"] = bool(lower_is_better)
    if entry:
        record["history"].append(entry)
        record["latest"].update(entry)
    if record["headline"] is None:
        record["headline"] = next((name for name in record["latest"] if name not in _COUNTERS), None)
    write_json(path, record)
    write_text(_beside(path, ".csv"), _csv_text(history_columns(record), record["history"]))
    if entry:
        _to_tensorboard(_beside(path, "tensorboard"), entry, step=len(record["history"]) - 1)
    if record["headline"] in entry and not any(name in entry for name in _COUNTERS):
        _compare_with_course(record["headline"], entry[record["headline"]])
    return path


def _compare_with_course(name: str, value) -> None:
    """The final headline against the course's band (``bands``): one line, never an error."""
    from .bands import comparison
    from .config import course_paths

    try:
        line = comparison(name, value, course_paths().root)
    except Exception:  # a student's notebook never fails for this
        return
    if line:
        print(line)


def history_columns(record: dict) -> list[str]:
    """Every name with a plain value in the history, counters first: the columns of ``metrics.csv``."""
    names = dict.fromkeys(
        name for entry in record["history"] for name, value in entry.items() if not isinstance(value, (list, dict))
    )
    return [name for name in _COUNTERS if name in names] + [name for name in names if name not in _COUNTERS]


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    """The history as CSV: full-precision values, one row per call, empty cells for names it lacks."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def _beside(path: Path, what: str) -> Path:
    """``metrics.csv`` / ``tensorboard`` next to ``metrics.json``; ``<name>.csv`` / ``tensorboard/<name>``
    next to a session's ``<name>.json``."""
    if path.name == FILE_NAME:
        return path.with_name("metrics.csv" if what == ".csv" else what)
    return path.with_suffix(what) if what == ".csv" else path.parent / what / path.stem


def _to_tensorboard(folder: Path, entry: dict, step: int) -> None:
    """The entry's numbers as TensorBoard scalars, if TensorBoard is installed (numpy is all its writer needs)."""
    if importlib.util.find_spec("tensorboard") is None:
        return
    from tensorboard.summary import Writer

    writer = _tensorboard_writers.get(folder)
    if writer is None:
        writer = _tensorboard_writers[folder] = Writer(str(folder))
    at = next((entry[name] for name in _COUNTERS if isinstance(entry.get(name), int)), step)
    for name, value in entry.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and name not in _COUNTERS:
            writer.add_scalar(name, value, at)
    writer.flush()


def metrics_file() -> Path:
    """Where this kernel's metrics go (see the module docstring)."""
    global _session_file
    run_dir = os.environ.get("COURSE_RUN_DIR")
    if run_dir:
        return Path(run_dir) / FILE_NAME
    if _session_file is None:
        from .config import course_paths

        notebook = Path(os.environ.get("JPY_SESSION_NAME") or "session").stem
        stamp = time.strftime("%Y%m%d-%H%M%S")
        _session_file = course_paths().build / "metrics" / f"{notebook}-{stamp}-{os.getpid()}.json"
    return _session_file


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


def _plain(name: str, value):
    """``value`` as plain JSON data: numpy/torch scalars and arrays become Python numbers and lists."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "numel") and callable(value.numel):  # torch tensor, without importing torch
        value = value.detach().cpu()
        return _plain(name, value.item() if value.numel() == 1 else value.tolist())
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalar or array
        return _plain(name, value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(name, item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(name, item) for key, item in value.items()}
    raise CourseError(
        f"metric {name!r} has type {type(value).__name__}, which cannot be stored as JSON: "
        "log numbers, strings, booleans, or lists/dicts of them"
    )
