"""Every time limit of the harness, and the one function that decides each kind.

As nbclient's ``_get_timeout`` does for a cell, ``lesson_limit`` and ``cell_limit`` turn what a
command was given (or not) into the limit a lesson runs under; nothing else picks a default.
The other constants are the graces around them: how long a stopped cell, worker or run may take
to end before it is killed.
"""

from __future__ import annotations

CELL_TIMEOUT_S = 1800.0  # a full-size training cell on a slow GPU
SMOKE_CELL_TIMEOUT_S = 300.0
SMOKE_LESSON_TIMEOUT_S = 900.0
FULL_RUN_CELL_TIMEOUT_S = 7 * 24 * 3600.0  # `course run --full` trains for hours: only a hung cell should hit this
INTERRUPT_GRACE_S = 3.0  # after SIGINT, how long a cell may take to stop before the kernel is killed
ROUND_TRIP_TIMEOUT_S = 0.5  # a kernel's answer to kernel_info; then ask again (a subscription not yet live)
STARTUP_TIMEOUT_S = 120.0  # kernel start and pre-warming; then the warm-up is interrupted
WARM_READY_TIMEOUT_S = 600.0  # the warm process's imports (torch, fastai) on a slow, busy disk
WORKER_BACKSTOP_S = 30.0  # beyond the lesson limit: interrupt, kill, probe and write the result
WORKER_STOP_GRACE_S = 10.0  # an interrupted worker writes its result and cleans up within this
RUN_STOP_GRACE_S = 30.0  # an interrupted `course run` records its state and stops its kernel within this
WARM_ANSWER_TIMEOUT_S = 5.0  # a running warm process says who it is within this, or is taken as gone
WARM_FORK_TIMEOUT_S = 30.0  # ... forks a lesson worker (its checks, the fork) within this
WARM_STOP_TIMEOUT_S = 10.0  # ... acknowledges `course warm --stop` within this
PROBE_TIMEOUT_S = 15.0  # a kernel reports its device and peak GPU memory within this, or it stays unknown
KILL_WAIT_S = 1.0  # after SIGKILL, how long to wait for the processes to be gone before reporting survivors
SUBMISSION_CELL_FLOOR_S = 30.0  # a graded submission's cell: at least this ...
SUBMISSION_LESSON_FLOOR_S = 120.0  # ... and the whole submission at least this, ...
SUBMISSION_MULTIPLE = (2, 4)  # ... else (cell, lesson) this many times the lesson's recorded smoke duration


def lesson_limit(*, smoke: bool, given: float | None = None) -> float | None:
    """The whole lesson's limit: as given; else 15 minutes for a smoke test, none otherwise."""
    if given is None and smoke:
        return SMOKE_LESSON_TIMEOUT_S
    return given


def cell_limit(
    *, given: float | None = None, lesson: float | None = None, smoke: bool = False, full_run: bool = False
) -> float:
    """One cell's limit: as given; else a week for `course run --full`, at most 5 minutes in a smoke
    test, else the lesson's limit, else 30 minutes."""
    if given is not None:
        return given
    if full_run:
        return FULL_RUN_CELL_TIMEOUT_S
    if smoke:
        return min(SMOKE_CELL_TIMEOUT_S, lesson) if lesson else SMOKE_CELL_TIMEOUT_S
    return lesson or CELL_TIMEOUT_S


def papermill_backstop(cell: float) -> int:
    """papermill's own cell timeout: never reached while the worker's watchdog works, but papermill must
    never wait forever (papermill issues 705, 711)."""
    return int(cell + 4 * INTERRUPT_GRACE_S + 30)


def submission_limits(recorded: float | None) -> tuple[float, float]:
    """``(lesson, cell)`` limits of one graded submission, from the lesson's recorded duration
    (``lesson-durations.json``): an endless loop costs seconds, not the smoke test's minutes. Without a
    record, the smoke test's limits."""
    if recorded is None:
        return SMOKE_LESSON_TIMEOUT_S, SMOKE_CELL_TIMEOUT_S
    cell, lesson = (multiple * recorded for multiple in SUBMISSION_MULTIPLE)
    return max(SUBMISSION_LESSON_FLOOR_S, lesson), max(SUBMISSION_CELL_FLOOR_S, cell)
