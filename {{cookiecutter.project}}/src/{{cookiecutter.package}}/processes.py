"""Process-tree control for lesson runs: nothing a kernel starts may outlive its lesson.

A kernel's children can escape the usual clean-up: a process that calls ``setsid``
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

import psutil

_PR_SET_CHILD_SUBREAPER = 36


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
