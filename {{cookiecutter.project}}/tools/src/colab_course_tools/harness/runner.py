"""Run lessons in worker processes: one lesson per worker, several at once, the next one pre-warmed.

Each lesson runs in a worker process of its own (``worker``) with a fresh kernel bound to
this interpreter, in the lesson's folder. The worker enforces the cell and lesson timeouts
and kills everything the kernel started. While lessons run, the next queued lesson's worker
is already started and its kernel imports what that lesson imports, so kernel start-up and
heavy imports overlap with useful work. Where it changes nothing a lesson can see, its worker and
kernel are forked from a warm process that has imported what the lessons share (``warm_starts``).

Everything happens in the calling (main) thread: workers are started from it, which their
``PR_SET_PDEATHSIG`` needs, and an interrupt (Ctrl-C, or SIGTERM/SIGHUP turned into one by
the command) reaches it. Workers run in sessions of their own, so a Ctrl-C in the terminal
reaches only the harness, which then stops them in order: running lessons are interrupted and
report where they were, queued ones never start; a second interrupt kills at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from . import progress
from .job import LessonJob, LessonResult
from .limits import WORKER_BACKSTOP_S, WORKER_STOP_GRACE_S
from .processes import (
    Interrupted,
    batch,
    child_env,
    kill_tree_of,
    new_work_dir,
    remove_work_dir,
    signal_name,
    signum_of,
    thread_limits,
)
from .warm_starts import RunWarmStarts

POLL_S = 0.05
PROGRESS_POLL_S = 0.5


class _LessonProcess:
    """A started lesson worker: its kernel boots and warms up until ``go()``."""

    def __init__(self, job: LessonJob, warm_starts: RunWarmStarts | None):
        output = job.output.resolve()
        output.parent.mkdir(parents=True, exist_ok=True)
        self.job = replace(
            job,
            notebook=job.notebook.resolve(),
            output=output,
            result_path=_temporary_path(f"{output.stem}-", ".json"),
            progress_path=_temporary_path(f"{output.stem}-progress-", ".json"),
            work_dir=new_work_dir(),
        )
        self.progress: dict | None = None
        self.log_path = output.with_suffix(".log")
        self.started: float | None = None
        env = worker_env()
        with open(self.log_path, "wb") as log:
            # A session of its own: a Ctrl-C in the terminal reaches the harness, which stops this in order.
            self.process = (warm_starts and warm_starts.spawn(self.job, env, log)) or subprocess.Popen(
                [sys.executable, "-m", f"{__package__}.worker"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                text=True,
                start_new_session=True,
            )
        self._send(self.job.to_json())

    def _send(self, line: str) -> None:
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except OSError:  # the worker already ended (it could not start the kernel): its result says why
            pass

    def go(self) -> None:
        """Start the lesson. stdin stays open: the worker stops if it ever reaches end of file."""
        self.started = time.monotonic()
        self._send("go")

    def finished(self) -> bool:
        return self.process.poll() is not None

    def new_progress(self) -> dict | None:
        """The worker's progress snapshot, if it changed since the last call."""
        snapshot = progress.read_snapshot(self.job.progress_path)
        if snapshot is None or snapshot == self.progress:
            return None
        self.progress = snapshot
        return snapshot

    def overdue(self) -> bool:
        """Still running well past its lesson timeout: the worker itself is stuck."""
        timeout = self.job.timeout
        return (
            timeout is not None
            and self.started is not None
            and time.monotonic() - self.started > timeout + WORKER_BACKSTOP_S
        )

    def interrupt(self, signum: int) -> None:
        """Pass the signal that stopped the run to the worker: it stops the lesson, writes an "interrupted"
        result naming that signal, and cleans up."""
        self._signal(signum)

    def kill(self) -> None:
        kill_tree_of(self.process.pid)
        self.process.wait()

    def result(self, status_if_missing: str = "failed", message: str | None = None) -> LessonResult:
        """The worker's result; a made-up one (with the worker's log) if it wrote none."""
        try:
            return LessonResult.from_json(json.loads(self.job.result_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            message = message or f"the lesson worker exited with {self.process.returncode} without a result"
            return self._made_up(status_if_missing, message)
        finally:
            self.clean_up()

    def clean_up(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        self.job.result_path.unlink(missing_ok=True)
        self.job.progress_path.unlink(missing_ok=True)
        remove_work_dir(self.job.work_dir)
        if self.log_path.exists() and not self.log_path.stat().st_size:
            self.log_path.unlink()

    def _signal(self, signum: int) -> None:
        try:
            os.kill(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def _made_up(self, status: str, message: str) -> LessonResult:
        log = self.log_path.read_text(errors="replace").strip() if self.log_path.exists() else ""
        return LessonResult(
            lesson=self.job.notebook.stem,
            status=status,
            seconds=round(time.monotonic() - self.started, 2) if self.started else 0.0,
            error=message,
            traceback="\n".join(log.splitlines()[-20:]),
            executed_notebook=self.job.output,
        )


def worker_env() -> dict:
    """The environment of a lesson worker, and so of its kernel before the job's own variables."""
    return child_env(
        PYDEVD_DISABLE_FILE_VALIDATION=os.environ.get("PYDEVD_DISABLE_FILE_VALIDATION", "1"),
        # nobody edits src/ during a batch run (see bootstrap)
        COURSE_AUTORELOAD=os.environ.get("COURSE_AUTORELOAD", "0"),
    )


def execute_lesson(
    notebook: Path,
    output: Path,
    parameters: dict | None = None,
    *,
    timeout: float | None = None,
    cell_timeout: float | None = None,
    env: dict | None = None,
    on_progress=None,
    warm_starts: bool = True,
) -> LessonResult:
    """Run one lesson with papermill in a fresh kernel bound to ``sys.executable``, cwd = its folder.

    The arguments are those of ``LessonJob``, and ``on_progress`` that of ``run_lessons``. Every
    process the kernel started is killed when it ends. Raises ``processes.Interrupted`` (a
    ``KeyboardInterrupt``) after stopping the lesson, when interrupted.
    """
    job = LessonJob(notebook, output, parameters or {}, timeout=timeout, cell_timeout=cell_timeout, env=env or {})
    return run_lessons([job], on_progress=on_progress, warm_starts=warm_starts)[0]


def run_shown(jobs: list[LessonJob], *, workers: int, warm_starts: bool, quiet: bool, on_result) -> list[LessonResult]:
    """``run_lessons`` as a command runs it (`course test`, `course grade`, `course bands record`): inside
    ``processes.batch()`` (a signal stops it cleanly, nothing is left behind), with live progress unless ``quiet``;
    ``on_result(result)`` returns the line to print as each lesson ends. An interrupt closes the display first."""
    display = progress.ProgressDisplay(quiet=quiet)

    def finished(result: LessonResult) -> None:
        line = on_result(result)
        display.done(result.lesson)
        display.print(line)

    try:
        with batch():
            return run_lessons(
                jobs,
                workers=workers,
                warm_starts=warm_starts,
                on_result=finished,
                on_progress=lambda lesson, snapshot: display.update(lesson, progress.describe(snapshot)),
            )
    finally:
        display.close()


def run_lessons(
    jobs: list[LessonJob], *, workers: int = 1, on_result=None, on_progress=None, warm_starts: bool = True
) -> list[LessonResult]:
    """Run jobs on ``workers`` parallel workers, one more warming up; results in job order.

    ``on_result(result)`` is called as each lesson finishes, ``on_progress(lesson, snapshot)`` when
    a running lesson's progress changes (``progress``). Parallel lessons share the cores instead of
    each starting a thread per core. On an interrupt every lesson is stopped, and the
    ``processes.Interrupted`` raised carries the results: finished, interrupted, and never started.
    With ``warm_starts``, lessons fork from a warm process where they can (``warm_starts``).
    """
    threads = thread_limits(workers)
    jobs = [replace(job, env={**threads, **job.env}) for job in jobs]
    forks = RunWarmStarts(jobs, worker_env()) if warm_starts and jobs else None
    queue = deque(enumerate(jobs))
    starting: deque[tuple[int, _LessonProcess]] = deque()
    running: dict[int, _LessonProcess] = {}
    results: dict[int, LessonResult] = {}
    parallel = max(1, min(workers, len(jobs)))
    progress_read = 0.0

    def finish(index: int, result: LessonResult) -> None:
        results[index] = result
        if on_result:
            on_result(result)

    try:
        while queue or starting or running:
            while len(running) < parallel and (starting or queue):
                index, process = starting.popleft() if starting else _start(queue.popleft(), forks)
                process.go()
                running[index] = process
            if queue and not starting:  # start the next lesson's kernel while the others run
                starting.append(_start(queue.popleft(), forks))
            time.sleep(POLL_S)
            if on_progress and time.monotonic() - progress_read >= PROGRESS_POLL_S:
                progress_read = time.monotonic()
                for process in running.values():
                    snapshot = process.new_progress()
                    if snapshot is not None:
                        on_progress(process.job.notebook.stem, snapshot)
            for index, process in list(running.items()):
                if process.finished():
                    finish(index, running.pop(index).result())
                elif process.overdue():
                    process.kill()
                    limit = process.job.timeout + WORKER_BACKSTOP_S
                    finish(
                        index,
                        running.pop(index).result(
                            "timed out", f"the lesson worker did not stop within {limit:g} s and was killed"
                        ),
                    )
    except KeyboardInterrupt as stop:
        signum = signum_of(stop)
        _stop(running, starting, results, signum)
        for index, job in [*((index, process.job) for index, process in starting), *queue]:
            results[index] = _not_started(job, signum)
        raise Interrupted(signum, [results[i] for i in range(len(jobs))]) from None
    finally:
        if forks is not None:
            forks.close()
    return [results[i] for i in range(len(jobs))]


def _temporary_path(prefix: str, suffix: str) -> Path:
    """A fresh name in the temporary folder; the file itself is written later, by the worker."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    os.close(fd)
    os.unlink(path)
    return Path(path)


def _start(item: tuple[int, LessonJob], forks: RunWarmStarts | None) -> tuple[int, _LessonProcess]:
    index, job = item
    return index, _LessonProcess(job, forks)


def _stop(running: dict[int, _LessonProcess], starting: deque, results: dict[int, LessonResult], signum: int) -> None:
    """Interrupt the running lessons and wait for their results; a second interrupt kills at once."""
    for _, process in starting:
        process.kill()
        process.clean_up()
    for process in running.values():
        process.interrupt(signum)
    deadline = time.monotonic() + WORKER_STOP_GRACE_S
    try:
        while any(not process.finished() for process in running.values()) and time.monotonic() < deadline:
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: stop waiting
    for index, process in running.items():
        if not process.finished():
            process.kill()
        results[index] = process.result("interrupted", "interrupted: the run was stopped")


def _not_started(job: LessonJob, signum: int) -> LessonResult:
    return LessonResult(
        lesson=job.notebook.stem,
        status="interrupted",
        error=f"not started: the run was stopped by {signal_name(signum)} first",
    )
