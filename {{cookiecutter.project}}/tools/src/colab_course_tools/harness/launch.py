"""A lesson's kernel: launched from this interpreter in the lesson's folder, warmed up, probed, stopped.

The kernel command is built from ``sys.executable`` (no kernelspec lookup, so no dependence on a
registered ``python3``); a worker forked from the warm process forks its kernel instead (``forked``). It talks over Unix sockets in a private folder, so parallel kernels
cannot race for TCP ports, and it dies with the worker that launched it, whatever kills the
worker. While it boots, jupyter_client and papermill load in the worker, and the kernel is told
to run ``in_kernel.prepare`` (checked shell commands, capped output, the lesson's imports); the
reply is awaited when the lesson starts.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import write_json
from ..errors import CourseError
from . import processes, sandbox
from .forked import fork_kernel
from .limits import INTERRUPT_GRACE_S, PROBE_TIMEOUT_S, STARTUP_TIMEOUT_S
from .prewarm import imports_to_prewarm

KERNEL_NAME = "course-python"
# A batch run keeps no IPython history: no SQLite file that parallel kernels contend for, nothing
# added to the user's own history, no saving thread (In, Out and %history still work in memory).
KERNEL_OPTIONS = ("--HistoryManager.enabled=False",)
OUTPUT_HEAD_CHARS = 50_000  # per stream and cell: kept from the start ...
OUTPUT_TAIL_CHARS = 10_000  # ... and from the end; what lies between is dropped, and counted
IN_KERNEL = (Path(__file__).with_name("in_kernel.py")).read_text(encoding="utf-8")


def in_kernel(call: str) -> str:
    """Code running ``call`` (e.g. ``probe()``) from ``in_kernel.py`` in a namespace of its own."""
    return f"exec(compile({IN_KERNEL + chr(10) + call!r}, '<course test>', 'exec'), {{}})"


class Kernel:
    """One kernel process for one lesson, and the jupyter_client manager papermill drives it through."""

    def __init__(self, folder: Path, env: dict, *, fork: bool = False, seal: dict | None = None):
        self.folder = folder  # connection file and sockets
        self.env = env
        self.fork = fork  # this worker was forked from the warm process: so is the kernel
        self.seal = sandbox.Seal(**seal) if seal else None  # a submission's kernel: sealed by bubblewrap
        self._sealed_pid: int | None = None
        self.process: subprocess.Popen | None = None
        self.manager = None
        self._warm_client = None
        self._warm_msg = None

    def start(self, notebook_path: Path, notebook: dict) -> None:
        """Launch the kernel in the notebook's folder, then load jupyter_client and papermill while it boots."""
        require_python(notebook_path, notebook)
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
        write_json(connection_file, connection)
        env = {**self.env, "JPY_PARENT_PID": str(os.getpid())}
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file), *KERNEL_OPTIONS]
        if self.seal is not None:
            # No JPY_PARENT_PID: the sealed kernel's parent is its namespace's pid 1, and no variable of ours.
            self.process = process = subprocess.Popen(
                sandbox.command(self.seal, kernel, self.folder),
                cwd=self.folder,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_both(processes.die_with_parent_preexec(signal.SIGKILL), sandbox.limit_resources(self.seal)),
            )
        elif self.fork:
            self.process = process = fork_kernel(
                ["-f", str(connection_file), *KERNEL_OPTIONS], notebook_path.parent, env
            )
        else:
            # As jupyter_client launches kernels: no stdin, a session of its own, and the parent's
            # pid (ipykernel watches it); and it dies with this worker, whatever kills the worker.
            self.process = process = subprocess.Popen(
                kernel,
                cwd=notebook_path.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=processes.die_with_parent_preexec(signal.SIGKILL),
            )

        from jupyter_client import AsyncKernelManager
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.provisioning import LocalProvisioner

        from .kernel import ReadyKernelClient

        # A manager for the kernel launched above, for nbclient: it polls and signals `process`.
        self.manager = AsyncKernelManager(
            kernel_name=KERNEL_NAME, connection_file=str(connection_file), client_factory=ReadyKernelClient
        )
        self.manager.load_connection_file()
        self.manager.provisioner = LocalProvisioner(kernel_id=KERNEL_NAME, kernel_spec=None, parent=self.manager)
        self.manager.provisioner.process = process
        self.manager.provisioner.pid = process.pid

        client = BlockingKernelClient()
        client.load_connection_info(connection)
        client.start_channels()
        import papermill  # noqa: F401  (loads while the kernel boots)

        prepare = f"prepare(get_ipython(), {OUTPUT_HEAD_CHARS}, {OUTPUT_TAIL_CHARS}, {imports_to_prewarm(notebook)!r})"
        self._warm_msg = client.execute(in_kernel(prepare), silent=True, store_history=False)
        self._warm_client = client

    @property
    def pid(self) -> int:
        """The kernel's process: for a sealed kernel, the one inside the sandbox (signals to bubblewrap's own
        process would not reach it; killing that one ends the sandbox)."""
        if self.seal is None:
            return self.process.pid
        if self._sealed_pid is None:
            self._sealed_pid = sandbox.inner_process(self.process.pid, "ipykernel_launcher")
        return self._sealed_pid or self.process.pid

    def exit_status(self) -> int | None:
        """The kernel's exit status (negative: killed by that signal), or None while it runs."""
        return self.process.poll() if self.process is not None else None

    def finish_warm_up(self, given_up) -> None:
        """Wait for the prelude and pre-warming; interrupt them if they take longer than start-up may.

        ``given_up()`` says the lesson's own limit has passed meanwhile: stop waiting then too.
        """
        client, self._warm_client = self._warm_client, None
        interrupt_at = time.monotonic() + STARTUP_TIMEOUT_S
        give_up_at = interrupt_at + INTERRUPT_GRACE_S
        try:
            while time.monotonic() < give_up_at and self.exit_status() is None and not given_up():
                if time.monotonic() > interrupt_at:  # an import that hangs: the lesson meets it itself, if at all
                    processes.signal_process(self.pid, signal.SIGINT)
                    interrupt_at = give_up_at
                try:
                    reply = client.get_shell_msg(timeout=0.2)
                except queue.Empty:
                    continue
                if reply["parent_header"].get("msg_id") == self._warm_msg:
                    return
        finally:
            client.stop_channels()

    def probe(self) -> dict:
        """Device, GPU name and peak GPU memory as the kernel saw them (empty if it is gone)."""
        from jupyter_client.blocking import BlockingKernelClient

        if self.exit_status() is not None:
            return {}
        client = BlockingKernelClient()
        client.load_connection_info(self.manager.get_connection_info())
        client.start_channels()
        lines: list[str] = []

        def collect(msg):
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                lines.append(msg["content"]["text"])

        try:
            client.execute_interactive(
                in_kernel("probe()"), store_history=False, timeout=PROBE_TIMEOUT_S, output_hook=collect
            )
            return json.loads("".join(lines).strip().splitlines()[-1])
        except Exception:  # a kernel too broken to answer: leave the device unknown
            return {}
        finally:
            client.stop_channels()

    def close_warm_up(self) -> None:
        if self._warm_client is not None:
            self._warm_client.stop_channels()


def _both(first, second):
    """One ``preexec_fn`` running two (either may be None)."""
    parts = [part for part in (first, second) if part is not None]
    return lambda: [part() for part in parts]


def require_python(path: Path, notebook: dict) -> None:
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


def exit_description(status: int) -> str:
    """``killed by SIGKILL`` or ``exit code 3``."""
    return f"killed by {processes.signal_name(-status)}" if status < 0 else f"exit code {status}"
