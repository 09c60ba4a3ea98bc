"""What a lesson run comes to: the ``LessonResult`` made from the executed notebook, the watchdog's
verdict on time, what papermill raised and how the kernel ended."""

from __future__ import annotations

from pathlib import Path

from .. import notebooks
from ..errors import CourseError
from . import outcome
from .job import LessonResult
from .launch import exit_description


def measured(lesson: str, status: str, seconds: float, *, startup, probe: dict, peak_bytes: int, output: Path):
    """A result with what was measured: time, device and GPU as the kernel saw them, peak RAM."""
    return LessonResult(
        lesson=lesson,
        status=status,
        seconds=seconds,
        startup_seconds=startup,
        device=probe.get("device"),
        gpu_name=probe.get("gpu_name"),
        peak_gpu_memory_mb=probe.get("peak_gpu_memory_mb"),
        peak_ram_mb=round(peak_bytes / 2**20, 1) if peak_bytes else None,
        executed_notebook=output,
    )


def judge(
    result: LessonResult,
    *,
    timed_out: tuple[int | None, str] | None,
    error: BaseException | None,
    last_cell: int | None,
    kernel_exit: int | None,
) -> LessonResult:
    """Turn a measured "passed" into what really happened: timed out, the first cell that failed, a dead
    kernel, or papermill's own failure."""
    executed = read_executed(result.executed_notebook)
    failure = outcome.first_failure(executed) if executed is not None else None
    if timed_out is not None:
        index, message = timed_out
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
        index = last_cell
        died = f"the kernel died ({exit_description(kernel_exit)})" if kernel_exit is not None else None
        result.status = "failed"
        result.error = died or outcome.one_line(type(error).__name__, str(error))
    else:
        return result
    locate(result, executed, index)
    return result


def locate(result: LessonResult, executed: dict | None, index: int | None) -> None:
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
        result.traceback = "\n\n".join(filter(None, [result.traceback, "output of the cell (last lines):\n" + printed]))


def read_executed(path: Path | None) -> dict | None:
    try:
        return notebooks.read_notebook(path) if path is not None else None
    except CourseError:
        return None


def _only_expected_errors(error: BaseException) -> bool:
    """papermill raises for an error in a cell tagged raises-exception, and nbclient does not: neither do we."""
    return type(error).__name__ == "PapermillExecutionError"
