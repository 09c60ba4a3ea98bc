"""How commands show results: aligned tables (Markdown for files and CI summaries, plain text for
the terminal), CSV for spreadsheets, short paths. Every table the course writes comes from here.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from .atomic import write_text


def cell(value) -> str:
    """A short rendering of a value for a table cell (numbers to 4 significant digits)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(value) if math.isnan(value) or math.isinf(value) else f"{value:.4g}"
    return str(value)


def closest(word: str, candidates) -> str | None:
    """What someone typing ``word`` most likely meant: a close spelling (``01_frist`` for ``01_first_model``),
    else the one name ``word`` abbreviates by its parts' initials (``lr`` for ``learning_rate``); None if none."""
    import difflib

    candidates = [str(candidate) for candidate in candidates]
    close = difflib.get_close_matches(word, candidates, n=1)
    if close:
        return close[0]
    initials = [name for name in candidates if "_" in name and "".join(p[:1] for p in name.split("_")) == word.lower()]
    return initials[0] if len(initials) == 1 else None


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``1 lesson``, ``2 lessons``, ``0 lessons``."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


def escape_markdown(text: str) -> str:
    """Text that stays one table cell or one line of Markdown: no column breaks, emphasis, code or HTML."""
    for char in "\\|*`<":
        text = text.replace(char, "\\" + char)
    return " ".join(text.splitlines())


def fenced(text: str, info: str = "") -> str:
    """``text`` in a Markdown code block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def markdown_table(
    columns: list[str], rows: list[dict], *, right: tuple[str, ...] = (), markdown: tuple[str, ...] = ()
) -> str:
    """Rows (dicts keyed by column) as a Markdown table, padded so it also reads well as plain text.

    Values are escaped, except in the columns named in ``markdown`` (links, badges: already Markdown).
    Columns named in ``right`` are right-aligned (numbers).
    """

    def text(column, value):
        return cell(value) if column in markdown else escape_markdown(cell(value))

    header = [escape_markdown(column) for column in columns]
    body = [[text(column, row.get(column)) for column in columns] for row in rows]
    widths = _widths([header, *body], minimum=3)
    rule = [("-" * (width - 1) + ":") if column in right else "-" * width for column, width in zip(columns, widths)]

    def line(values):
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " |"

    return "\n".join([line(header), line(rule), *map(line, body)]) + "\n"


def text_table(columns: list[str], rows: list[dict]) -> str:
    """Rows as aligned plain-text columns under a dashed rule, for the terminal."""
    lines = [list(columns), *([cell(row.get(column)) for column in columns] for row in rows)]
    widths = _widths(lines)
    shown = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in lines]
    shown.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(shown)


def _widths(lines: list[list[str]], minimum: int = 0) -> list[int]:
    return [max([minimum, *(len(line[i]) for line in lines)]) for i in range(len(lines[0]))]


def csv_text(columns: list[str], rows: list[dict]) -> str:
    """Full-precision values, one row per dict (keys not in ``columns`` left out)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """``csv_text`` written atomically."""
    write_text(path, csv_text(columns, rows))


def shown(path: Path) -> str:
    """A path relative to the working directory when below it (shorter), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
