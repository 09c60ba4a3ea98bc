"""Run lessons in worker processes: one lesson per worker, several at once, the next one pre-warmed.

Each lesson runs in a worker process of its own (``worker``) with a fresh kernel bound to
this interpreter, in the lesson's folder. The worker enforces the cell and lesson timeouts
and kills everything the kernel started. While lessons run, the next queued lesson's worker
is already started and its kernel imports what that lesson imports, so kernel start-up and
heavy imports overlap with useful work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from .job import LessonJob, LessonResult
from .processes import child_env, thread_limits

_BACKSTOP_S = 300.0  # beyond the lesson timeout: kernel start-up, interrupt, clean-up


class _LessonProcess:
    """A started lesson worker: its kernel boots and warms up until ``run()`` says go."""

    def __init__(self, job: LessonJob):
        output = job.output.resolve()
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, result_path = tempfile.mkstemp(prefix=f"{output.stem}-", suffix=".json")
        os.close(fd)
        os.unlink(result_path)
        self.job = replace(job, notebook=job.notebook.resolve(), output=output, result_path=Path(result_path))
        self.log_path = output.with_suffix(".log")
        env = child_env(
            PYDEVD_DISABLE_FILE_VALIDATION=os.environ.get("PYDEVD_DISABLE_FILE_VALIDATION", "1"),
            # nobody edits src/ during a batch run (see bootstrap)
            COURSE_AUTORELOAD=os.environ.get("COURSE_AUTORELOAD", "0"),
        )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"{__package__}.worker"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                text=True,
            )
        try:
            self.process.stdin.write(self.job.to_json() + "\n")
            self.process.stdin.flush()
        except OSError:  # the worker died at start (its log says why); run() reports it
            pass

    def run(self) -> LessonResult:
        started = time.monotonic()
        try:
            self.process.stdin.write("go\n")
            self.process.stdin.close()
        except OSError:  # the worker already ended (it could not start the kernel): its result says why
            pass
        limit = None if self.job.timeout is None else self.job.timeout + _BACKSTOP_S
        try:
            self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self._kill()
            return self._failure(
                "timed out", f"the lesson worker did not stop within {limit:g} s and was killed", started
            )
        except BaseException:  # Ctrl-C, `kill PID` or a notebook's stop button: the lesson must not train on
            self._kill()
            raise
        try:
            return LessonResult.from_json(json.loads(self.job.result_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            message = f"the lesson worker exited with {self.process.returncode} without a result"
            return self._failure("failed", message, started)
        finally:
            self.job.result_path.unlink(missing_ok=True)
            if self.log_path.exists() and not self.log_path.stat().st_size:
                self.log_path.unlink()

    def cancel(self) -> None:
        """Stop a worker that never got to run (its kernel is killed by the worker itself)."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self._kill()

    def _kill(self) -> None:
        import psutil

        from .processes import kill_tree

        try:
            kill_tree(psutil.Process(self.process.pid))
        except psutil.NoSuchProcess:
            pass
        self.process.wait()

    def _failure(self, status: str, message: str, started: float) -> LessonResult:
        log = self.log_path.read_text(errors="replace").strip() if self.log_path.exists() else ""
        return LessonResult(
            lesson=self.job.notebook.stem,
            status=status,
            seconds=round(time.monotonic() - started, 2),
            error=message,
            traceback="\n".join(log.splitlines()[-20:]),
            executed_notebook=self.job.output,
        )


def execute_lesson(
    notebook: Path,
    output: Path,
    parameters: dict | None = None,
    *,
    timeout: float | None = None,
    cell_timeout: float | None = None,
    env: dict | None = None,
) -> LessonResult:
    """Run one lesson with papermill in a fresh kernel bound to ``sys.executable``, cwd = its folder.

    The arguments are those of ``LessonJob``. Every process the kernel started is killed when it ends.
    """
    job = LessonJob(notebook, output, parameters or {}, timeout=timeout, cell_timeout=cell_timeout, env=env or {})
    return _LessonProcess(job).run()


def run_lessons(jobs: list[LessonJob], *, workers: int = 1, on_result=None) -> list[LessonResult]:
    """Run jobs on ``workers`` parallel workers, one more warming up; results in job order.

    ``on_result(result)`` is called as each lesson finishes (from worker threads, one at a time).
    Parallel lessons share the cores instead of each starting a thread per core.
    """
    threads = thread_limits(workers)
    jobs = [replace(job, env={**threads, **job.env}) for job in jobs]
    queue = deque(enumerate(jobs))
    warm: deque[tuple[int, _LessonProcess]] = deque()
    results: dict[int, LessonResult] = {}
    lock = threading.Lock()

    def take():
        with lock:
            if warm:
                taken = warm.popleft()
            elif queue:
                index, job = queue.popleft()
                taken = (index, _LessonProcess(job))
            else:
                return None
            if queue and not warm:  # start the next lesson's kernel while this one runs
                index, job = queue.popleft()
                warm.append((index, _LessonProcess(job)))
            return taken

    def work():
        while (taken := take()) is not None:
            index, process = taken
            result = process.run()
            with lock:
                results[index] = result
                if on_result:
                    on_result(result)

    parallel = max(1, min(workers, len(jobs)))
    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            for future in [pool.submit(work) for _ in range(parallel)]:
                future.result()
    finally:
        for _, process in warm:
            process.cancel()
    return [results[i] for i in range(len(jobs)) if i in results]
