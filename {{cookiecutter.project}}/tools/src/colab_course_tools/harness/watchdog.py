"""The thread beside a running lesson: it enforces the time limits, and gives its other parts a beat.

The limits count from ``go`` (kernel start-up counts): when the running cell or the whole lesson
is over its limit, the kernel is interrupted (SIGINT) and killed if it ignores that for
``INTERRUPT_GRACE_S``, so a lesson ends within a few seconds of its limit. Every tick also goes
to the parts that follow the lesson: its peak memory (``processes.MemoryPeak``) and its progress
snapshot (``progress.Reporter``).
"""

from __future__ import annotations

import signal
import threading
import time

from . import processes
from .limits import INTERRUPT_GRACE_S

TICK_S = 0.1


class Watchdog(threading.Thread):
    """Follows papermill's cell callbacks; interrupts, then kills, a kernel past its limit."""

    def __init__(self, kernel_pid: int, cell_timeout: float, lesson_timeout: float | None, parts=()):
        super().__init__(daemon=True)
        self.kernel_pid = kernel_pid
        self.cell_timeout = cell_timeout
        self.lesson_timeout = lesson_timeout
        self.parts = parts  # each has tick(now, watchdog)
        self.started = time.monotonic()
        self.cell: tuple[int, float] | None = None  # (index in executed notebook, start time)
        self.last_cell: int | None = None
        self.running: dict | None = None  # the executing cell, its outputs filled in as they come
        self.timed_out: tuple[int | None, str] | None = None  # (cell index, message)
        self._done = threading.Event()

    def cell_started(self, cell_index: int, cell: dict | None = None, **_) -> None:
        self.cell = (cell_index, time.monotonic())
        self.last_cell = cell_index
        self.running = cell

    def cell_finished(self, **_) -> None:
        self.cell = None

    def stop(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join()

    def run(self) -> None:
        interrupted_at = None
        while not self._done.wait(TICK_S):
            now = time.monotonic()
            for part in self.parts:
                part.tick(now, self)
            if self.timed_out is None:
                self.timed_out = self._over_limit(now)
                if self.timed_out is not None:
                    interrupted_at = now
                    processes.signal_process(self.kernel_pid, signal.SIGINT)
            elif now - interrupted_at > INTERRUPT_GRACE_S:
                processes.signal_process(self.kernel_pid, signal.SIGKILL)
                return

    def _over_limit(self, now: float) -> tuple[int | None, str] | None:
        cell = self.cell
        if self.lesson_timeout is not None and now - self.started > self.lesson_timeout:
            return (cell[0] if cell else self.last_cell, f"lesson exceeded its {self.lesson_timeout:g} s timeout")
        if cell is not None and now - cell[1] > self.cell_timeout:
            return (cell[0], f"cell exceeded the {self.cell_timeout:g} s cell timeout")
        return None
