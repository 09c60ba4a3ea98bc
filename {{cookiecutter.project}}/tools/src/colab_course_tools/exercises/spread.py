"""`course grade --on dask|dask://HOST:PORT|slurm|submitit-local`: a class spread over the engines sweeps use.

Each submission is one `course grade FILE --into DIR` on a worker, sealed there as it would be here (the worker
needs bubblewrap, and the course folder and Python environment at the same paths, as for sweeps); its rows and
feedback come back through DIR and are merged into ``build/``. Ctrl-C cancels what the engine still queues and
stops the running ones through a stop file, as a sweep's runs stop.
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from pathlib import Path

from ..atomic import write_text


def grade_on_engine(root: Path, files: list[Path], engine, passed_on: list[str]) -> list[dict]:
    """Grade ``files`` on ``engine``, each with the options ``passed_on``; returns every row of grades.csv.
    Feedback files land in ``build/feedback``."""
    from ..harness.processes import child_env

    folder = Path(tempfile.mkdtemp(prefix="grading-", dir=root / "build"))
    stop_file = folder / "stop"
    handles = {}
    for number, path in enumerate(files, 1):
        into = folder / f"{number:04d}"
        command = [sys.executable, "-m", "colab_course_tools", "grade", str(path.resolve()), "--into", str(into)]
        handles[engine.submit(command + passed_on, str(root), child_env(), str(stop_file))] = (path, into)
    rows: list[dict] = []
    try:
        for handle, (path, into) in handles.items():  # in the class's order; the engine runs them all meanwhile
            rows += _collect(root, path, into, handle, engine.name)
        return rows
    except KeyboardInterrupt:
        stop_file.write_text("stop\n", encoding="utf-8")
        engine.cancel(list(handles))
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _collect(root: Path, path: Path, into: Path, handle, engine: str) -> list[dict]:
    """One submission's rows (and feedback) from its folder; a row saying why when its worker failed."""
    try:
        _, output = handle.result()
    except Exception as failure:  # each engine has its own: KilledWorker, UncompletedJobError, ...
        output = f"not graded: {engine}: {type(failure).__name__}: {str(failure).strip()[:300]}"
    table = into / "grades.csv"
    if not table.is_file():
        reason = (output.strip().splitlines() or ["its worker wrote no grades"])[-1]
        print(f"{path.name}: {reason}", flush=True)
        return [{"submission": path.name, "question": "", "points": 0, "reason": reason}]
    for line in output.splitlines():
        if line.startswith(path.name):
            print(line, flush=True)
    for feedback in (into / "feedback").glob("*.md"):
        write_text(root / "build" / "feedback" / feedback.name, feedback.read_text(encoding="utf-8"))
    with table.open(newline="", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))
