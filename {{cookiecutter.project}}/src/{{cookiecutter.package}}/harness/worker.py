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

Timeouts are enforced by a watchdog thread, from ``go`` (kernel start-up counts): it interrupts
the kernel (SIGINT) when the running cell or the whole lesson is over its limit and kills the
kernel if the interrupt is ignored, so a lesson ends within a few seconds of its limit.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import notebooks
from ..errors import CourseError
from . import outcome, processes, progress
from .job import LessonJob, LessonResult
from .prewarm import imports_to_prewarm

KERNEL_NAME = "course-python"
INTERRUPT_GRACE_S = 3.0  # after SIGINT, how long a cell may take to stop before the kernel is killed
STARTUP_TIMEOUT_S = 120.0  # kernel start and pre-warming; then the warm-up is interrupted
MEMORY_SAMPLE_S = 0.5
PROGRESS_S = 0.5  # how often the progress snapshot is brought up to date
OUTPUT_HEAD_CHARS = 50_000  # per stream and cell: kept from the start ...
OUTPUT_TAIL_CHARS = 10_000  # ... and from the end; what lies between is dropped, and counted
IN_KERNEL = (Path(__file__).with_name("in_kernel.py")).read_text(encoding="utf-8")


class Stopped(BaseException):
    """SIGTERM, SIGHUP or SIGINT reached the worker: the harness is stopping, or is gone."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


def in_kernel(call: str) -> str:
    """Code running ``call`` (e.g. ``probe()``) from ``in_kernel.py`` in a namespace of its own."""
    return f"exec(compile({IN_KERNEL + chr(10) + call!r}, '<course test>', 'exec'), {{}})"


class _Watchdog(threading.Thread):
    """Interrupts, then kills, a kernel whose cell or lesson ran past its limit; records peak memory;
    keeps the progress snapshot (``progress``) up to date.

    Memory is the resident memory of everything below this worker (the kernel, its children,
    DataLoader workers, orphans the worker adopted), sampled every ``MEMORY_SAMPLE_S``.
    """

    def __init__(
        self,
        kernel_pid: int,
        cell_timeout: float,
        lesson_timeout: float | None,
        progress_path: Path | None,
        numbering: tuple[int, int | None],
    ):
        super().__init__(daemon=True)
        self.kernel_pid = kernel_pid
        self.cell_timeout = cell_timeout
        self.lesson_timeout = lesson_timeout
        self.started = time.monotonic()
        self.cell: tuple[int, float] | None = None  # (index in executed notebook, start time)
        self.last_cell: int | None = None
        self.timed_out: tuple[int | None, str] | None = None  # (cell index, message)
        self.peak_ram_bytes = 0
        self._sampled = 0.0
        self._done = threading.Event()
        self.progress_path = progress_path
        self.cell_count, self._injected_at = numbering  # see _cell_numbering
        self._running: dict | None = None  # the executing cell, its outputs filled in as they come
        self._reported = 0.0
        self._snapshot: dict | None = None

    def cell_started(self, cell_index: int, cell: dict | None = None, **_) -> None:
        self.cell = (cell_index, time.monotonic())
        self.last_cell = cell_index
        self._running = cell

    def cell_finished(self, **_) -> None:
        self.cell = None

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        interrupted_at = None
        while not self._done.wait(0.1):
            now = time.monotonic()
            if now - self._sampled >= MEMORY_SAMPLE_S:
                self.sample_memory()
            if self.progress_path is not None and now - self._reported >= PROGRESS_S:
                self.report_progress(now)
            if self.timed_out is None:
                cell = self.cell
                if self.lesson_timeout is not None and now - self.started > self.lesson_timeout:
                    where = cell[0] if cell else self.last_cell
                    self.timed_out = (where, f"lesson exceeded its {self.lesson_timeout:g} s timeout")
                elif cell is not None and now - cell[1] > self.cell_timeout:
                    self.timed_out = (cell[0], f"cell exceeded the {self.cell_timeout:g} s cell timeout")
                else:
                    continue
                interrupted_at = now
                processes.signal_process(self.kernel_pid, signal.SIGINT)
            elif now - interrupted_at > INTERRUPT_GRACE_S:
                processes.signal_process(self.kernel_pid, signal.SIGKILL)
                return

    def report_progress(self, now: float) -> None:
        """Write where the lesson is (cell as numbered in the lesson, time, last output) if that changed."""
        self._reported = now
        index, cell = self.last_cell, self._running
        snapshot = {
            "cell": None if index is None else outcome.number_in_lesson(index, self._injected_at),
            "cells": self.cell_count,
            "elapsed": round(now - self.started),
            "output": progress.last_output(cell) if cell is not None else "",
        }
        if snapshot != self._snapshot:
            self._snapshot = snapshot
            try:
                progress.write_snapshot(self.progress_path, snapshot)
            except OSError:  # progress is a nicety: never a reason to fail a lesson
                pass

    def sample_memory(self) -> None:
        self._sampled = time.monotonic()
        self.peak_ram_bytes = max(self.peak_ram_bytes, processes.descendants_rss())


class LessonRun:
    """A kernel bound to this interpreter, started in the lesson's folder, and one execution in it."""

    def __init__(self, job: LessonJob):
        self.job = job
        self.notebook, self.output = job.notebook, job.output
        self.env = {**os.environ, **job.env}
        self.folder = Path(job.work_dir) if job.work_dir else processes.new_work_dir()  # connection file, sockets
        self.km = None
        self.kernel = None  # the kernel's subprocess.Popen
        self.watchdog: _Watchdog | None = None
        self.started: float | None = None
        self.startup_seconds: float | None = None
        self._warm_client = None
        self._warm_msg = None
        self.numbering: tuple[int, int | None] = (0, None)  # see _cell_numbering

    # -- kernel -------------------------------------------------------------------------
    def start_kernel(self) -> None:
        """Launch the kernel first, then load jupyter_client and papermill while it boots.

        The kernel command is built from ``sys.executable`` (no kernelspec lookup, so no
        dependence on a registered ``python3``). It talks over Unix sockets in a private
        folder, so parallel kernels cannot race for TCP ports. The prelude and the warm-up
        imports are queued without waiting; their reply is awaited when the lesson starts.
        """
        notebook = notebooks.read_notebook(self.notebook)
        _require_python(self.notebook, notebook)
        self.numbering = _cell_numbering(notebook, self.job.parameters)
        connection_file = self.folder / "connection.json"
        ports = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
        connection = {name: number for number, name in enumerate(ports, start=1)}
        connection.update(
            ip=str(self.folder / "ipc"),
            transport="ipc",
            key=secrets.token_hex(32),
            signature_scheme="hmac-sha256",
            kernel_name=KERNEL_NAME,
        )
        connection_file.write_text(json.dumps(connection))
        # As jupyter_client launches kernels: no stdin, a session of its own, and the parent's
        # pid (ipykernel watches it); and it dies with this worker, whatever kills the worker.
        self.kernel = process = subprocess.Popen(
            [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file)],
            cwd=self.notebook.parent,
            env={**self.env, "JPY_PARENT_PID": str(os.getpid())},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=processes.die_with_parent_preexec(signal.SIGKILL),
        )

        from jupyter_client import AsyncKernelManager
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.provisioning import LocalProvisioner

        from .kernel import ReadyKernelClient

        # A manager for the kernel launched above, for nbclient: it polls and signals `process`.
        self.km = AsyncKernelManager(
            kernel_name=KERNEL_NAME, connection_file=str(connection_file), client_factory=ReadyKernelClient
        )
        self.km.load_connection_file()
        self.km.provisioner = LocalProvisioner(kernel_id=KERNEL_NAME, kernel_spec=None, parent=self.km)
        self.km.provisioner.process = process
        self.km.provisioner.pid = process.pid

        client = BlockingKernelClient()
        client.load_connection_info(connection)
        client.start_channels()
        import papermill  # noqa: F401  (loads while the kernel boots)

        prepare = f"prepare(get_ipython(), {OUTPUT_HEAD_CHARS}, {OUTPUT_TAIL_CHARS}, {imports_to_prewarm(notebook)!r})"
        self._warm_msg = client.execute(in_kernel(prepare), silent=True, store_history=False)
        self._warm_client = client

    def kernel_exit(self) -> int | None:
        """The kernel's exit status (negative: killed by that signal), or None while it runs."""
        return self.kernel.poll() if self.kernel is not None else None

    def _finish_warm_up(self) -> None:
        """Wait for the prelude and pre-warming; interrupt them if they take longer than start-up may."""
        client, self._warm_client = self._warm_client, None
        interrupt_at = time.monotonic() + STARTUP_TIMEOUT_S
        give_up_at = interrupt_at + INTERRUPT_GRACE_S
        try:
            while time.monotonic() < give_up_at and self.kernel_exit() is None and not self.watchdog.timed_out:
                if time.monotonic() > interrupt_at:  # an import that hangs: the lesson meets it itself, if at all
                    processes.signal_process(self.kernel.pid, signal.SIGINT)
                    interrupt_at = give_up_at
                try:
                    reply = client.get_shell_msg(timeout=0.2)
                except queue.Empty:
                    continue
                if reply["parent_header"].get("msg_id") == self._warm_msg:
                    return
        finally:
            client.stop_channels()

    def _probe(self) -> dict:
        """Device, GPU name and peak GPU memory as the kernel saw them (empty if it is gone)."""
        from jupyter_client.blocking import BlockingKernelClient

        if self.kernel_exit() is not None:
            return {}
        client = BlockingKernelClient()
        client.load_connection_info(self.km.get_connection_info())
        client.start_channels()
        lines: list[str] = []

        def collect(msg):
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                lines.append(msg["content"]["text"])

        try:
            client.execute_interactive(in_kernel("probe()"), store_history=False, timeout=15, output_hook=collect)
            return json.loads("".join(lines).strip().splitlines()[-1])
        except Exception:  # a kernel too broken to answer: leave the device unknown
            return {}
        finally:
            client.stop_channels()

    def stop(self) -> None:
        """Kill the kernel and everything below this process, then remove its sockets and files."""
        if self.watchdog is not None:
            self.watchdog.stop()
        if self._warm_client is not None:
            self._warm_client.stop_channels()
        self.kernel_exit()  # record the kernel's status before orphans are reaped
        processes.kill_descendants()
        processes.remove_work_dir(self.folder)

    # -- execution ------------------------------------------------------------------------
    def execute(self) -> LessonResult:
        """Run the lesson; the lesson's clock started at ``go``, kernel start-up included."""
        from papermill import execute_notebook

        self.started = time.monotonic()
        self.watchdog = _Watchdog(
            self.kernel.pid, self.job.cell_timeout, self.job.timeout, self.job.progress_path, self.numbering
        )
        self.watchdog.start()
        self._finish_warm_up()
        self.startup_seconds = round(time.monotonic() - self.started, 2)
        error: BaseException | None = None
        self.output.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.watchdog.timed_out is None:
                execute_notebook(
                    str(self.notebook),
                    str(self.output),
                    parameters=self.job.parameters,
                    kernel_name=KERNEL_NAME,
                    language="python",
                    progress_bar=False,
                    log_output=False,
                    km=self.km,
                    # A backstop only (the watchdog acts first): papermill must never wait forever.
                    execution_timeout=int(self.job.cell_timeout + 4 * INTERRUPT_GRACE_S + 30),
                    on_cell_execute=self.watchdog.cell_started,
                    on_cell_executed=self.watchdog.cell_finished,
                )
        except Exception as failure:  # a failing cell, a dead kernel, an unreadable notebook
            error = failure
        finally:
            self.watchdog.stop()
            self.watchdog.sample_memory()  # a short lesson may end between two samples
        seconds = round(time.monotonic() - self.started, 2)
        return self._result(seconds, self._probe(), error)

    def _base_result(self, status: str, seconds: float, probe: dict | None = None) -> LessonResult:
        probe = probe or {}
        peak = self.watchdog.peak_ram_bytes if self.watchdog else 0
        return LessonResult(
            lesson=self.notebook.stem,
            status=status,
            seconds=seconds,
            startup_seconds=self.startup_seconds,
            device=probe.get("device"),
            gpu_name=probe.get("gpu_name"),
            peak_gpu_memory_mb=probe.get("peak_gpu_memory_mb"),
            peak_ram_mb=round(peak / 2**20, 1) if peak else None,
            executed_notebook=self.output,
        )

    def _result(self, seconds: float, probe: dict, error: BaseException | None) -> LessonResult:
        result = self._base_result("passed", seconds, probe)
        executed = _read_executed(self.output)
        failure = outcome.first_failure(executed) if executed is not None else None
        if self.watchdog.timed_out is not None:
            index, message = self.watchdog.timed_out
            result.status, result.error = "timed out", message
            if failure is not None and index is not None and failure.index == index:
                result.traceback = failure.traceback
        elif failure is not None:
            index, result.status, result.error, result.traceback = (
                failure.index,
                "failed",
                failure.error,
                failure.traceback,
            )
        elif error is not None and not _only_expected_errors(error):
            index = self.watchdog.last_cell
            status = self.kernel_exit()
            died = f"the kernel died ({_exit_description(status)})" if status is not None else None
            result.status = "failed"
            result.error = died or outcome.one_line(type(error).__name__, str(error))
        else:
            return result
        self._locate(result, executed, index)
        return result

    def interrupted(self, signum: int) -> LessonResult:
        """The result of a lesson stopped from outside: where it was, what it had printed."""
        seconds = round(time.monotonic() - self.started, 2) if self.started else 0.0
        result = self._base_result("interrupted", seconds)
        result.error = f"interrupted by {signal.Signals(signum).name} (the run was stopped)"
        index = self.watchdog.cell[0] if self.watchdog and self.watchdog.cell else None
        self._locate(result, _read_executed(self.output), index)
        return result

    @staticmethod
    def _locate(result: LessonResult, executed: dict | None, index: int | None) -> None:
        """Fill in the failing cell's number (as in the lesson), its source, and what it printed."""
        if index is None or executed is None:
            return
        cells = outcome.lesson_cells(executed)
        if index >= len(cells):
            return
        result.failed_cell = outcome.cell_number(cells, index)
        result.failed_source = notebooks.cell_source(cells[index])
        printed = outcome.command_output(executed, index)
        if printed and printed not in result.traceback:
            result.traceback = "\n\n".join(
                filter(None, [result.traceback, "output of the cell (last lines):\n" + printed])
            )


def _require_python(path: Path, notebook: dict) -> None:
    """Refuse a notebook written for another kernel (R, Julia, ...): it would be run as Python."""
    metadata = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    language = str(spec.get("language") or info.get("name") or "python")
    if language.lower() not in ("python", "python3"):
        kernel = spec.get("display_name") or spec.get("name") or language
        raise CourseError(
            f"{path.name} is written for the {kernel} kernel ({language}), not Python: course test runs Python "
            "lessons only; run it with its own kernel, or give it a Python kernelspec"
        )


def _cell_numbering(notebook: dict, parameters: dict) -> tuple[int, int | None]:
    """The lesson's cell count, and the index papermill's injected cell will have (None if none)."""
    cells = notebooks.cells(notebook)
    if not parameters:
        return len(cells), None
    tagged = [i for i, cell in enumerate(cells) if notebooks.has_tag(cell, notebooks.PARAMETERS_TAG)]
    return len(cells), tagged[0] + 1 if tagged else 0


def _only_expected_errors(error: BaseException) -> bool:
    """papermill raises for an error in a cell tagged raises-exception, and nbclient does not: neither do we."""
    return type(error).__name__ == "PapermillExecutionError"


def _read_executed(path: Path) -> dict | None:
    try:
        return notebooks.read_notebook(path)
    except CourseError:
        return None


def _exit_description(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit code {status}"


def _watch_parent() -> None:
    """End of file on stdin means the harness is gone (or cancelled us): stop as if told to."""

    def watch():
        while sys.stdin.readline():
            pass
        processes.signal_process(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def main() -> int:
    processes.die_with_parent(signal.SIGTERM)
    processes.become_subreaper()
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _stop)
    job = LessonJob.from_json(sys.stdin.readline())
    run = LessonRun(job)
    result = None
    try:
        run.start_kernel()
        if sys.stdin.readline().strip() != "go":
            return 0  # cancelled before it started: the harness reports it
        _watch_parent()
        result = run.execute()
    except Stopped as stopped:
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
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)  # clean-up runs to its end
        run.stop()
        if result is not None:
            from ..atomic import write_text

            write_text(job.result_path, json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    status = main()
    # The kernel is gone and the result written: skip unloading papermill, zmq and their
    # threads, a noticeable share of a short lesson's time.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
