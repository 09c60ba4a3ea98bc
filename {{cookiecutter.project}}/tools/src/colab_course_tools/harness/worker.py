"""One lesson, one process: ``python -m <package>.harness.worker`` (started by ``runner``).

Protocol on stdin: one ``LessonJob`` as a JSON line, then ``go`` (end of file instead of ``go``
cancels). Between the two the kernel is already started and warmed: it imports what the lesson
imports (``prewarm``), so a queued lesson starts at full speed. The ``LessonResult`` is written
as JSON to the job's ``result_path``.

Nothing the lesson starts outlives it, whatever happens to the harness:

- the worker is a child subreaper (``processes``), so it finds and kills everything below it,
  processes that left the kernel's session included;
- it dies with its parent: the kernel of ``PR_SET_PDEATHSIG`` sends it SIGTERM, and end of file
  on stdin (the harness holds the other end) does the same on any system;
- SIGTERM, SIGHUP or SIGINT stop the lesson: the result says "interrupted", the kernel's whole
  tree is killed, the kernel's folder removed; the kernel itself dies with the worker.

A worker forked from the warm process (``warm``) runs the same ``main``; it forks its kernel
(``forked``), and its parent is the warm process: it dies with it, with the harness through end
of file on stdin (the harness holds the pipe), and when the harness disconnects from the warm
process, which then sends it SIGTERM.

The parts: ``launch`` (the kernel), ``watchdog`` (time limits, on whose beat peak memory and
progress are followed), ``results`` (what the run comes to).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from .. import notebooks
from ..errors import CourseError
from . import outcome, processes, progress, results, sandbox
from .job import LessonJob, LessonResult
from .launch import KERNEL_NAME, Kernel
from .limits import papermill_backstop
from .watchdog import Watchdog

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _stop(signum, frame):
    """The first stop signal stops the lesson; later ones (the harness, the parent's death and end of file
    on stdin may each send one) must not cut the clean-up short, which would orphan what the kernel started."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise processes.Interrupted(signum)


class LessonRun:
    """One lesson in one kernel: started before ``go``, executed with papermill after it."""

    def __init__(self, job: LessonJob, *, warm: bool = False, shared_bytes: int = 0):
        self.job = job
        self.warm = warm
        self.folder = job.work_dir or processes.new_work_dir()  # connection file, sockets
        self.kernel = Kernel(self.folder, {**os.environ, **job.env}, fork=warm, seal=job.seal)
        self.memory = processes.MemoryPeak(shared_bytes if warm else None)
        self.watchdog: Watchdog | None = None
        self.started: float | None = None
        self.startup_seconds: float | None = None
        self.numbering: tuple[int, int | None] = (0, None)  # see outcome.cell_numbering

    def start_kernel(self) -> None:
        notebook = notebooks.read_notebook(self.job.notebook)
        self.numbering = outcome.cell_numbering(notebook, self.job.parameters)
        self.kernel.start(self.job.notebook, notebook)

    def stop(self) -> None:
        """Kill the kernel and everything below this process, then remove its sockets and files."""
        if self.watchdog is not None:
            self.watchdog.stop()
        self.kernel.close_warm_up()
        self.kernel.exit_status()  # record the kernel's status before orphans are reaped
        processes.kill_descendants()
        processes.remove_work_dir(self.folder)

    def execute(self) -> LessonResult:
        """Run the lesson; the lesson's clock started at ``go``, kernel start-up included."""
        from papermill import execute_notebook

        job = self.job
        self.started = time.monotonic()
        parts = [self.memory]
        cap = sandbox.ProcessCap(self.kernel.process.pid, self.kernel.seal.processes) if self.kernel.seal else None
        parts += [cap] if cap else []
        if job.progress_path is not None:
            parts.append(progress.Reporter(job.progress_path, self.numbering))
        self.watchdog = watchdog = Watchdog(self.kernel.pid, job.cell_timeout, job.timeout, parts)
        watchdog.start()
        self.kernel.finish_warm_up(given_up=lambda: watchdog.timed_out is not None)
        self.startup_seconds = round(time.monotonic() - self.started, 2)
        error: BaseException | None = None
        job.output.parent.mkdir(parents=True, exist_ok=True)
        try:
            if watchdog.timed_out is None:
                execute_notebook(
                    str(job.notebook),
                    str(job.output),
                    parameters=job.parameters,
                    kernel_name=KERNEL_NAME,
                    language="python",
                    progress_bar=False,
                    log_output=False,
                    km=self.kernel.manager,
                    execution_timeout=papermill_backstop(job.cell_timeout),
                    on_cell_execute=watchdog.cell_started,
                    on_cell_executed=watchdog.cell_finished,
                )
        except Exception as failure:  # a failing cell, a dead kernel, an unreadable notebook
            error = failure
        finally:
            watchdog.stop()
            self.memory.sample()  # a short lesson may end between two samples
        seconds = round(time.monotonic() - self.started, 2)
        result = results.judge(
            self._measured("passed", seconds, self.kernel.probe()),
            timed_out=watchdog.timed_out,
            error=error,
            last_cell=watchdog.last_cell,
            kernel_exit=self.kernel.exit_status(),
        )
        if cap is not None and cap.exceeded is not None:
            result.error = f"it started {cap.exceeded} processes at once, over the sandbox's {cap.limit}: killed"
        return result

    def interrupted(self, signum: int) -> LessonResult:
        """The result of a lesson stopped from outside: where it was, what it had printed."""
        seconds = round(time.monotonic() - self.started, 2) if self.started else 0.0
        result = self._measured("interrupted", seconds, {"device": processes.device_in_use(self.kernel.pid)})
        result.error = f"interrupted by {processes.signal_name(signum)} (the run was stopped)"
        index = self.watchdog.cell[0] if self.watchdog and self.watchdog.cell else None
        results.locate(result, results.read_executed(self.job.output), index)
        return result

    def _measured(self, status: str, seconds: float, probe: dict) -> LessonResult:
        result = results.measured(
            self.job.notebook.stem,
            status,
            seconds,
            startup=self.startup_seconds,
            probe=probe,
            peak_bytes=self.memory.peak_bytes,
            output=self.job.output,
        )
        result.warm_start = self.warm
        return result


def _watch_parent() -> None:
    """End of file on stdin means the harness is gone (or cancelled us): stop as if told to."""

    def watch():
        while sys.stdin.readline():
            pass
        processes.signal_process(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def main(*, warm: bool = False, shared_bytes: int = 0) -> int:
    """Run one job; ``warm``: this process was forked from the warm process (``warm``), whose
    ``shared_bytes`` of resident memory the kernel maps."""
    processes.die_with_parent(signal.SIGTERM)
    processes.become_subreaper()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    job = LessonJob.from_json(sys.stdin.readline())
    run = LessonRun(job, warm=warm, shared_bytes=shared_bytes)
    result = None
    try:
        run.start_kernel()
        if sys.stdin.readline().strip() != "go":
            return 0  # cancelled before it started: the harness reports it
        _watch_parent()
        result = run.execute()
    except processes.Interrupted as stopped:
        result = run.interrupted(stopped.signum) if run.started is not None else None
    except Exception as error:
        result = LessonResult(
            lesson=job.notebook.stem,
            status="failed",
            error=str(error)
            if isinstance(error, CourseError)
            else f"could not run the lesson: {type(error).__name__}: {error}",
            executed_notebook=job.output,
        )
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # clean-up runs to its end
        run.stop()
        if result is not None:
            from ..atomic import write_json

            write_json(job.result_path, result.to_json())
    return 0


if __name__ == "__main__":
    status = main()
    # The kernel is gone and the result written: skip unloading papermill, zmq and their
    # threads, a noticeable share of a short lesson's time.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
