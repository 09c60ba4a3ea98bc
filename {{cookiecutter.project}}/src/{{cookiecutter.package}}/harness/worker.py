"""One lesson, one process: ``python -m <package>.harness.worker`` (started by ``runner``).

The worker is a child subreaper (see ``processes``), so after the lesson it can find
and kill everything the kernel started, including processes that left the kernel's
session. Protocol on stdin: one ``LessonJob`` as a JSON line, then ``go`` (or end of file to
cancel). Between the two the kernel is already started and warmed: it imports what
the lesson imports (never touching CUDA), so a queued lesson starts at full speed.
The ``LessonResult`` is written as JSON to the job's ``result_path``.

Timeouts are enforced here by a watchdog thread rather than inside nbclient: it
interrupts the kernel (SIGINT) when the running cell or the whole lesson is over its
limit and kills the kernel if the interrupt is ignored, so a lesson always ends.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .. import notebooks
from ..errors import CourseError
from . import processes
from .job import LessonJob, LessonResult

KERNEL_NAME = "course-python"
INTERRUPT_GRACE_S = 3.0  # after SIGINT, how long a cell may take to stop before the kernel is killed
STARTUP_TIMEOUT_S = 120.0
MEMORY_SAMPLE_S = 0.5

# Run silently in the kernel before the lesson: a failing `!command` fails its cell.
# IPython only stores the exit status in `_exit_code`; a lesson whose `!pip install`
# failed would otherwise go on and fail later with a confusing error, or pass in CI.
# Compiled under a file name that explains the extra traceback frame to the reader.
_CHECKED_SHELL = """
def system(cmd, run=shell.system):
    run(cmd)
    status = shell.user_ns.get("_exit_code", 0)
    if status:
        raise subprocess.CalledProcessError(status, cmd)
shell.system = system
"""
_PRELUDE = (
    f"exec(compile({_CHECKED_SHELL!r}, '<course test: a failing !command fails its cell>', 'exec'), "
    "{'shell': get_ipython(), 'subprocess': __import__('subprocess')})\n"
)

# The imports live as long as the kernel: freezing them keeps the garbage collector from
# walking torch's and fastai's half a million objects in every full collection (one can
# fall inside a short training loop).
_WARM = """
def _course_warm(names):
    import gc, importlib
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    gc.freeze()
_course_warm({names!r})
del _course_warm
"""

# Reads what the lesson used, never initialising CUDA itself: torch must already be
# imported and CUDA initialised by the lesson for the answer to be "cuda".
_PROBE = """
def _course_probe():
    import json, sys
    torch = sys.modules.get("torch")
    found = {"device": "cpu", "gpu_name": None, "peak_gpu_memory_mb": None}
    if torch is not None and torch.cuda.is_initialized():
        index = torch.cuda.current_device()
        found = {
            "device": "cuda",
            "gpu_name": torch.cuda.get_device_name(index),
            "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated(index) / 2**20, 1),
        }
    print(json.dumps(found))
_course_probe()
del _course_probe
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TRACEBACK_LINES = 40


def imported_modules(notebook: dict) -> list[str]:
    """Top-level modules the lesson's code cells import (magics and shell lines skipped)."""
    names: list[str] = []
    for cell in notebooks.cells(notebook):
        if cell.get("cell_type") != "code":
            continue
        source = notebooks.cell_source(cell)
        if source.lstrip().startswith("%%"):
            continue
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                names.append(node.module)
    return list(dict.fromkeys(names))


class _Watchdog(threading.Thread):
    """Interrupts, then kills, a kernel whose cell or lesson ran past its limit; records peak memory.

    Memory is the resident memory of everything below this worker (the kernel, its children,
    DataLoader workers, orphans the worker adopted), sampled every ``MEMORY_SAMPLE_S``.
    """

    def __init__(self, kernel_pid: int, cell_timeout: float, lesson_timeout: float | None):
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

    def cell_started(self, cell_index: int, **_) -> None:
        self.cell = (cell_index, time.monotonic())
        self.last_cell = cell_index

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
                self._signal(signal.SIGINT)
            elif now - interrupted_at > INTERRUPT_GRACE_S:
                self._signal(signal.SIGKILL)
                return

    def sample_memory(self) -> None:
        self._sampled = time.monotonic()
        self.peak_ram_bytes = max(self.peak_ram_bytes, processes.descendants_rss())

    def _signal(self, signum: int) -> None:
        try:
            os.kill(self.kernel_pid, signum)
        except ProcessLookupError:
            pass


class LessonRun:
    """A kernel bound to this interpreter, started in the lesson's folder, and one execution in it."""

    def __init__(self, job: LessonJob):
        self.job = job
        self.notebook, self.output = job.notebook, job.output
        self.env = {**os.environ, **job.env}
        self.km = None
        self.kernel = None  # the kernel's subprocess.Popen
        self._kernel_dir = tempfile.TemporaryDirectory(prefix="course-kernel-")  # connection file, sockets
        self._warm_client = None
        self._warm_msg = None

    # -- kernel -------------------------------------------------------------------------
    def start_kernel(self) -> None:
        """Launch the kernel first, then load jupyter_client and papermill while it boots.

        The kernel command is built from ``sys.executable`` (no kernelspec lookup, so no
        dependence on a registered ``python3``). It talks over Unix sockets in a private
        folder, so parallel kernels cannot race for TCP ports. The prelude and the warm-up
        imports are queued without waiting; their reply is awaited when the lesson starts.
        """
        folder = Path(self._kernel_dir.name)
        connection_file = folder / "connection.json"
        ports = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
        connection = {name: number for number, name in enumerate(ports, start=1)}
        connection.update(
            ip=str(folder / "ipc"),
            transport="ipc",
            key=secrets.token_hex(32),
            signature_scheme="hmac-sha256",
            kernel_name=KERNEL_NAME,
        )
        connection_file.write_text(json.dumps(connection))
        # As jupyter_client launches kernels: no stdin, a session of its own, and the parent's
        # pid, which makes ipykernel exit by itself should this worker die.
        self.kernel = process = subprocess.Popen(
            [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file)],
            cwd=self.notebook.parent,
            env={**self.env, "JPY_PARENT_PID": str(os.getpid())},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
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

        notebook = notebooks.read_notebook(self.notebook)
        code = _PRELUDE + _WARM.format(names=imported_modules(notebook))
        self._warm_msg = client.execute(code, silent=True, store_history=False)
        self._warm_client = client

    def kernel_exit(self) -> int | None:
        """The kernel's exit status (negative: killed by that signal), or None while it runs."""
        return self.kernel.poll()

    def _finish_warm_up(self, timeout: float) -> None:
        client, self._warm_client = self._warm_client, None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self.kernel_exit() is None:
                try:
                    reply = client.get_shell_msg(timeout=0.5)
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
            client.execute_interactive(_PROBE, store_history=False, timeout=15, output_hook=collect)
            return json.loads("".join(lines).strip().splitlines()[-1])
        except Exception:  # a kernel too broken to answer: leave the device unknown
            return {}
        finally:
            client.stop_channels()

    def stop(self) -> None:
        """Kill the kernel and everything below this process, then remove its sockets and files."""
        if self._warm_client is not None:
            self._warm_client.stop_channels()
        if self.kernel is not None:
            self.kernel_exit()  # record the kernel's status before orphans are reaped
        processes.kill_descendants()
        self._kernel_dir.cleanup()

    # -- execution ------------------------------------------------------------------------
    def execute(self) -> LessonResult:
        from papermill import execute_notebook

        started = time.monotonic()
        # Kernel start-up is not the lesson's time: on a busy machine it alone could eat a short
        # lesson timeout. The wait is bounded on its own; the lesson's clock starts after it.
        self._finish_warm_up(STARTUP_TIMEOUT_S)
        watchdog = _Watchdog(self.kernel.pid, self.job.cell_timeout, self.job.timeout)
        watchdog.start()
        error: BaseException | None = None
        self.output.parent.mkdir(parents=True, exist_ok=True)
        try:
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
                on_cell_execute=watchdog.cell_started,
                on_cell_executed=watchdog.cell_finished,
            )
        except Exception as failure:  # a failing cell, a dead kernel, an unreadable notebook
            error = failure
        finally:
            watchdog.stop()
            watchdog.sample_memory()  # a short lesson may end between two samples
        seconds = round(time.monotonic() - started, 2)
        probe = self._probe()
        return self._result(seconds, probe, error, watchdog)

    def _result(self, seconds, probe, error, watchdog) -> LessonResult:
        result = LessonResult(
            lesson=self.notebook.stem,
            status="passed",
            seconds=seconds,
            device=probe.get("device"),
            gpu_name=probe.get("gpu_name"),
            peak_gpu_memory_mb=probe.get("peak_gpu_memory_mb"),
            peak_ram_mb=round(watchdog.peak_ram_bytes / 2**20, 1) if watchdog.peak_ram_bytes else None,
            executed_notebook=self.output,
        )
        if error is None and watchdog.timed_out is None:
            return result
        executed = _read_notebook(self.output)
        if watchdog.timed_out is not None:
            index, message = watchdog.timed_out
            result.status = "timed out"
        elif getattr(error, "cell_index", None) is not None:  # papermill's PapermillExecutionError
            index = error.cell_index
            message = _one_line(f"{error.ename}: {error.evalue}".rstrip(": "))
            result.traceback = _clean_traceback(error.traceback)
        else:
            index = watchdog.last_cell
            status = self.kernel_exit()
            if status is not None:
                message = f"the kernel died ({_exit_description(status)})"
            else:
                message = _one_line(f"{type(error).__name__}: {error}".rstrip(": "))
        result.status = result.status if result.status == "timed out" else "failed"
        result.error = message
        if index is not None and executed is not None:
            cells = executed["cells"]
            result.failed_source = notebooks.cell_source(cells[index]) if index < len(cells) else ""
            if not result.traceback and index < len(cells):
                result.traceback = _error_output_traceback(cells[index])
            result.failed_cell = _lesson_cell_index(cells, index)
        return result


def _read_notebook(path: Path) -> dict | None:
    """The executed notebook as it ran: without the error banners papermill adds on failure."""
    try:
        nb = notebooks.read_notebook(path)
    except CourseError:
        return None
    nb["cells"] = [c for c in notebooks.cells(nb) if not notebooks.has_tag(c, "papermill-error-cell-tag")]
    return nb


def _lesson_cell_index(cells: list[dict], index: int) -> int:
    """Index in the lesson as written: papermill's injected-parameters cell is not counted."""
    injected = [i for i, c in enumerate(cells) if notebooks.has_tag(c, notebooks.INJECTED_TAG)]
    return index - 1 if injected and index > injected[0] else index


def _one_line(text: str, limit: int = 300) -> str:
    """The short error for reports and status lines; the whole text stays in the traceback."""
    first = _ANSI.sub("", text).strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


def _clean_traceback(lines) -> str:
    text = _ANSI.sub("", "\n".join(lines or []))
    return "\n".join(text.splitlines()[-TRACEBACK_LINES:])


def _error_output_traceback(cell: dict) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return _clean_traceback(output.get("traceback"))
    return ""


def _exit_description(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit code {status}"


def main() -> int:
    processes.become_subreaper()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    job = LessonJob.from_json(sys.stdin.readline())
    run = LessonRun(job)
    result = None
    try:
        run.start_kernel()
        if sys.stdin.readline().strip() != "go":
            return 0  # cancelled before it started
        result = run.execute()
    except Exception as error:
        result = LessonResult(
            lesson=job.notebook.stem,
            status="failed",
            error=f"could not run the lesson: {type(error).__name__}: {error}",
            executed_notebook=job.output,
        )
        raise
    finally:
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
