"""Where runs live and what each one records.

One folder per run, ``build/runs/<lesson>/<run-id>/`` (on Drive in Colab, so runs survive a reset):

- ``<lesson>.ipynb``    the executed notebook (written cell by cell while it runs)
- ``run.json``          status, overrides as given, timing, error, attempts, who is running it
- ``params.json``       every parameter the lesson ran with (defaults, smoke values, overrides)
- ``environment.json``  runtime, device, GPU, Python and library versions, git commit + dirty flag
- ``metrics.json``      what the lesson logged with ``course.metrics.log_metrics``; the same history
                        in ``metrics.csv`` and, with TensorBoard installed, in ``tensorboard/``
- ``checkpoints/``      the run's checkpoints (``COURSE_CHECKPOINTS``), so the same run id resumes
"""

from __future__ import annotations

import json
import platform
import re
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_json
from ..config import course_paths
from ..errors import CourseError
from ..metrics_file import read_metrics

RUN_FILE = "run.json"
PARAMS_FILE = "params.json"
ENVIRONMENT_FILE = "environment.json"
CHECKPOINTS_DIR = "checkpoints"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def runs_dir(root: Path) -> Path:
    return course_paths(root).build / "runs"


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.fullmatch(run_id):
        raise CourseError(
            f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-' (starting with a letter or digit)"
        )
    return run_id


def timestamp_id(taken) -> str:
    """A readable id from the current time, with a suffix if ``taken(id)`` says it is in use."""
    stem = time.strftime("%Y%m%d-%H%M%S")
    candidate, number = stem, 1
    while taken(candidate):
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


@dataclass
class Run:
    """A run folder and its ``run.json``."""

    directory: Path
    info: dict

    @property
    def lesson(self) -> str:
        return self.info["lesson"]

    @property
    def run_id(self) -> str:
        return self.directory.name

    @property
    def status(self) -> str:
        """As recorded, except that a "running" run whose process is gone reads "interrupted"."""
        status = self.info.get("status", "unknown")
        if status == "running" and not _process_alive(self.info.get("process")):
            return "interrupted"
        return status

    @property
    def metrics(self) -> dict:
        return read_metrics(self.directory)

    def save(self, **changes) -> None:
        self.info.update(changes)
        write_json(self.directory / RUN_FILE, self.info)


def load_run(directory: Path) -> Run | None:
    path = directory / RUN_FILE
    if not path.is_file():
        return None
    try:
        return Run(directory, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise CourseError(f"cannot read {path} ({error}): delete the run folder {directory}") from None


def read_params(directory: Path) -> dict:
    """The ``params.json`` of a run: every value it ran with (empty if it never started)."""
    path = directory / PARAMS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as error:
        raise CourseError(f"cannot read {path} ({error}): delete the run folder {directory}") from None


def list_runs(root: Path, lesson: str | None = None) -> list[Run]:
    """Every run under build/runs (of one lesson if given), oldest first."""
    base = runs_dir(root)
    folders = sorted((base / lesson).glob("*")) if lesson else sorted(base.glob("*/*"))
    runs = [run for run in map(load_run, folders) if run is not None]
    return sorted(runs, key=lambda run: (run.info.get("started", ""), run.lesson, run.run_id))


def environment_snapshot(root: Path) -> dict:
    """What a result depends on besides the parameters: where and with what it ran."""
    from .. import __version__
    from ..environment import runtime, versions

    return {
        "runtime": runtime(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "tools": __version__,
        "versions": versions(),
        "git": git_state(root),
    }


def git_state(root: Path) -> dict | None:
    """``{"commit", "dirty"}`` of the repo, or None outside git. Untracked files count as dirty."""

    from ..git import QUICK_TIMEOUT_S, GitFailed, git, head_commit

    commit = head_commit(root)
    try:
        dirty = commit is not None and bool(git(root, "status", "--porcelain", timeout=QUICK_TIMEOUT_S))
    except GitFailed:
        return None
    return None if commit is None else {"commit": commit, "dirty": dirty}


def current_process() -> dict:
    """Who is running a run: enough to tell later whether that process still exists."""
    import psutil

    me = psutil.Process()
    return {"host": socket.gethostname(), "pid": me.pid, "created": me.create_time()}


def _process_alive(process: dict | None) -> bool:
    """Whether the recorded process still runs: same host, same pid, same start time (pids get reused)."""
    if not process or process.get("host") != socket.gethostname():
        return False  # a Colab reset gives a new host: the old process is gone
    import psutil

    try:
        return abs(psutil.Process(process["pid"]).create_time() - process["created"]) < 1
    except (psutil.Error, KeyError, TypeError):
        return False
