"""Child processes of the harness: the environment they start with, and clean-up of their trees.

Every child that runs course code (lesson workers, kernels, sweep runs) gets its environment
from ``child_env``: this package importable and, when several run side by side, its share of
the cores.

Nothing a kernel starts may outlive its lesson. A kernel's children can escape the usual clean-up: a process that calls ``setsid``
(``start_new_session=True``) leaves the kernel's process group, and one whose parent
died is re-parented to init. The lesson worker therefore makes itself a *child
subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): orphans below it are re-parented to
it instead of init, so walking its children finds every process the lesson started.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path

import psutil

_PR_SET_CHILD_SUBREAPER = 36
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def child_env(*, workers: int = 1, **extra: str) -> dict:
    """This process's environment for a child running course code, plus ``extra``.

    The package's folder goes first on ``PYTHONPATH``: in Colab only ``sys.path`` knows it.
    """
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env.update(thread_limits(workers))
    env.update(extra)
    return env


def thread_limits(workers: int) -> dict:
    """Environment giving each of ``workers`` parallel kernels (lessons, sweep runs) its share of the cores.

    Each torch/OpenMP/BLAS runtime starts one thread per core by default; two lessons on two
    cores then run four busy threads that slow each other down. Settings the user made win.
    """
    if workers <= 1:
        return {}
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {name: share for name in _THREAD_VARIABLES if name not in os.environ}


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); returns False where the OS has no such notion."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def kill_tree(root: psutil.Process, *, include_root: bool = True, timeout: float = 5.0) -> list[int]:
    """SIGKILL ``root``'s descendants (and ``root``), repeating until none is left; returns their pids.

    Repeats because a dying process may still fork, and orphans of killed
    processes reach a subreaper only after their parent is gone.
    """
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            victims = root.children(recursive=True)
        except psutil.NoSuchProcess:
            victims = []
        if include_root and root.is_running() and root.pid != os.getpid():
            victims.append(root)
        victims = [p for p in victims if p.pid != os.getpid()]
        if not victims or time.monotonic() > deadline:
            break
        for process in victims:
            try:
                process.send_signal(signal.SIGKILL)
                killed.append(process.pid)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=1.0)
        reap_zombies()
    return killed


def descendants_rss() -> int:
    """Resident memory, in bytes, of every process below this one (gone or inaccessible ones count 0)."""
    total = 0
    for process in psutil.Process().children(recursive=True):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_descendants(timeout: float = 5.0) -> list[int]:
    """Kill every descendant of this process (adopted orphans included) and reap them."""
    return kill_tree(psutil.Process(), include_root=False, timeout=timeout)


def reap_zombies() -> None:
    """Collect exit statuses of dead children (adopted orphans become zombies until reaped)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
