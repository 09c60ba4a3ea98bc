"""Tables of runs, as aligned Markdown (readable in a terminal, rendered on GitHub) and CSV."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .atomic import write_text


def cell(value) -> str:
    """A short rendering of a parameter or metric value for Markdown."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(value) if math.isnan(value) or math.isinf(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(columns: list[str], rows: list[dict]) -> str:
    """Rows (dicts keyed by column) as a Markdown table with padded columns."""
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), 3, *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]

    def line(values):
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " |"

    return "\n".join([line(columns), line(["-" * width for width in widths]), *map(line, cells)]) + "\n"


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Full-precision values, one row per dict, written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    write_text(path, buffer.getvalue())


def best_row(values: list, lower_is_better: bool) -> int | None:
    """Index of the best finite number in ``values`` (None where there is none)."""
    numbers = [
        (value, index) for index, value in enumerate(values)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ]
    if not numbers:
        return None
    return (min(numbers) if lower_is_better else max(numbers, key=lambda pair: (pair[0], -pair[1])))[1]


def flags(overrides: dict) -> str:
    """Overrides as ``name=value`` words (``smoke`` left out: the table says smoke or full elsewhere)."""
    return " ".join(f"{name}={value!r}" for name, value in overrides.items() if name != "smoke")


def shown(path: Path) -> str:
    """A path relative to the working directory when below it (shorter), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
