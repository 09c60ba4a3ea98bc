"""What an executed notebook says about how its lesson went, read cell by cell.

papermill reports the first error output it finds, which is not always what a teacher needs:
a cell tagged ``raises-exception`` is meant to raise (nbclient lets it, papermill does not);
``sys.exit()`` or ``raise SystemExit`` stops a lesson early and papermill calls that a pass;
a bad line magic fails with no error output at all (IPython prints a ``UsageError`` to stderr),
and a failing shell command's reason is in the output the command printed. This module finds
the first cell that really failed, and its reason in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import notebooks

TRACEBACK_LINES = 40
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Failure:
    """The first cell that failed: its index in the executed notebook, its number in the lesson as
    written (1 for the first cell; papermill's injected-parameters cell not counted), why in one line,
    and the detail."""

    index: int
    cell: int
    error: str
    traceback: str = ""


def lesson_cells(executed: dict) -> list[dict]:
    """The executed notebook's cells without papermill's error banners."""
    return [cell for cell in notebooks.cells(executed) if not notebooks.has_tag(cell, notebooks.BANNER_TAG)]


def first_failure(executed: dict) -> Failure | None:
    """The first code cell that failed (an error not expected by its tags, an early exit), or None."""
    cells = lesson_cells(executed)
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or notebooks.has_tag(cell, notebooks.RAISES_TAG):
            continue
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors and errors[0].get("ename") == "SystemExit":
            not_run = sum(
                1 for later in cells[index + 1 :] if _would_run(later) and later.get("execution_count") is None
            )
            code = errors[0].get("evalue") or ""
            number = cell_number(cells, index)
            plural = "s" if not_run != 1 else ""
            return Failure(
                index, number, f"stopped at cell {number} by sys.exit({code}); {not_run} cell{plural} not run"
            )
        if errors:
            error = errors[0]
            evalue = error.get("evalue", "")
            if error.get("ename") == "CommandFailed" and ":" not in evalue:  # `!cmd`: its message is in the output
                evalue = ": ".join(filter(None, [evalue, last_line(stream_text(cell))]))
            message = one_line(error.get("ename", "Error"), evalue)
            return Failure(index, cell_number(cells, index), message, clean(error.get("traceback")))
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):  # failed without an error output
            printed = stream_text(cell)
            message = last_line(printed) or "the cell failed without saying why"
            return Failure(index, cell_number(cells, index), message, tail(printed))
    return None


def cell_number(cells: list[dict], index: int) -> int:
    """The cell's number in the lesson as written, counted from 1 as people count cells; papermill's
    injected-parameters cell is not counted."""
    injected = [i for i, cell in enumerate(cells) if notebooks.has_tag(cell, notebooks.INJECTED_TAG)]
    return number_in_lesson(index, injected[0] if injected else None)


def cell_numbering(notebook: dict, parameters: dict) -> tuple[int, int | None]:
    """Before a run: the lesson's cell count, and the index papermill's injected cell will have (None if
    it injects none: no parameters given; at the top when no cell is tagged ``parameters``)."""
    count = len(notebooks.cells(notebook))
    if not parameters:
        return count, None
    index = notebooks.parameters_index(notebook)
    return count, 0 if index is None else index + 1


def number_in_lesson(index: int, injected_at: int | None) -> int:
    """``cell_number`` when the injected cell's index (None: no injected cell) is known beforehand."""
    return index + (0 if injected_at is not None and index > injected_at else 1)


def command_output(executed: dict, index: int) -> str:
    """What a failing cell printed (a shell command's own message is there), for the report's detail."""
    cells = lesson_cells(executed)
    return tail(stream_text(cells[index])) if index < len(cells) else ""


def _would_run(cell: dict) -> bool:
    return (
        cell.get("cell_type") == "code"
        and not notebooks.has_tag(cell, notebooks.SKIP_TAG)
        and notebooks.cell_source(cell).strip()
    )


def stream_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            text = output.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return _ANSI.sub("", "".join(parts))


def one_line(ename: str, evalue: str, limit: int = 300) -> str:
    """``Name: first non-empty line of the message``, for status lines and reports; at most ``limit`` long."""
    text = f"{ename}: {last_line(evalue, first=True)}".rstrip(": ") if ename else last_line(evalue, first=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def last_line(text: str, *, first: bool = False) -> str:
    """The last (or first) non-empty line of ``text``, without terminal colours."""
    lines = [line.strip() for line in _ANSI.sub("", text or "").splitlines() if line.strip()]
    return (lines[0] if first else lines[-1]) if lines else ""


def clean(lines) -> str:
    """A traceback without terminal colours, its last ``TRACEBACK_LINES`` lines."""
    text = _ANSI.sub("", "\n".join(lines or []))
    return "\n".join(text.splitlines()[-TRACEBACK_LINES:])


def tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-TRACEBACK_LINES:])
