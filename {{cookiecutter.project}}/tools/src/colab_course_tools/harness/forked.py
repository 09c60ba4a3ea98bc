"""A lesson's kernel forked from a warm worker, instead of started as a new interpreter (``warm``).

The worker was itself forked from the warm process, which has already imported ipykernel and
the lessons' modules; forking the kernel from it skips the interpreter start and those imports.
The child becomes the kernel as ``python -m ipykernel_launcher ARGUMENTS`` would: in the lesson's
folder, with the lesson's environment, in a session of its own, dying with the worker, with the
signal handlers of a new process. What the worker imported for itself is dropped from
``sys.modules``, and numpy's global random state is seeded afresh, as a new process would do:
lessons forked from one warm process must not draw the same random numbers.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

from . import processes

# Set in a worker the warm process forked: the modules a kernel forked from it keeps (not the worker's own).
WARM_MODULES: frozenset[str] = frozenset()


class ForkedProcess:
    """The part of ``subprocess.Popen`` that jupyter_client's provisioner and the worker use."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by the worker's clean-up, as Popen takes it
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = 0
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            processes.signal_process(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_kernel(arguments: list[str], cwd: Path, env: dict) -> ForkedProcess:
    """Fork this (single-threaded) worker into the lesson's kernel, ``ipykernel_launcher ARGUMENTS``."""
    die_with_worker = processes.die_with_parent_preexec(signal.SIGKILL)
    pid = os.fork()
    if pid:
        return ForkedProcess(pid)
    status = 1
    try:
        os.setsid()
        if die_with_worker:
            die_with_worker()
        _become_kernel(arguments, cwd, env)
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        _exit(status)


def default_signal_handlers() -> None:
    """The signal handlers a new Python process starts with, in a child forked from one that set its own."""
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _become_kernel(arguments: list[str], cwd: Path, env: dict) -> None:
    default_signal_handlers()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for name in set(sys.modules) - WARM_MODULES:
        del sys.modules[name]
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
    from importlib.util import find_spec

    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [find_spec("ipykernel_launcher").origin, *arguments]
    IPKernelApp.launch_instance(argv=sys.argv[1:])


def _exit(status: int) -> None:
    """End the kernel as the interpreter would, running the exit hooks of what it imported."""
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)
