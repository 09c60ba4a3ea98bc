"""Keep a course consistent while it grows: the README lesson table, new lessons, checks, fixes.

Standard library only: the template's post-generation hook imports this module
with cookiecutter's interpreter, before any dependency is installed.
"""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path

from .config import CourseConfig
from .errors import CourseError

TABLE_START = "<!-- lessons:start -->"
TABLE_END = "<!-- lessons:end -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LESSON_NAME = re.compile(r"(?P<number>\d{2,})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.ipynb")


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a crash never leaves half a file."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def lesson_files(root: Path) -> list[Path]:
    """Lessons listed in the README: ``lessons/NN_slug.ipynb``, in order."""
    folder = root / "lessons"
    return sorted(p for p in folder.glob("*.ipynb") if LESSON_NAME.fullmatch(p.name)) if folder.is_dir() else []


def lesson_title(notebook: Path) -> str:
    """The text of the lesson's first markdown heading, else a title made from its file name."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        cells = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            for line in ("".join(source) if isinstance(source, list) else str(source)).splitlines():
                heading = re.fullmatch(r"\s{0,3}#{1,6}\s+(.+?)\s*#*\s*", line)
                if heading:
                    return heading.group(1)
    slug = LESSON_NAME.fullmatch(notebook.name)
    return (slug.group("slug") if slug else notebook.stem).replace("_", " ").capitalize()


def lesson_table(root: Path, config: CourseConfig) -> str:
    """The markdown table of lessons with their "Open in Colab" badges."""
    rows = ["| # | Lesson | Open |", "|---|---|---|"]
    for notebook in lesson_files(root):
        number = LESSON_NAME.fullmatch(notebook.name).group("number")
        title = lesson_title(notebook).replace("|", "\\|")
        badge = f"[![Open In Colab]({COLAB_BADGE})]({config.colab_url(notebook.name)})"
        rows.append(f"| {number} | [{title}](lessons/{notebook.name}) | {badge} |")
    return "\n".join(rows)


def _table_span(readme: Path, text: str) -> tuple[int, int]:
    """Start and end offsets of the text between the two table markers."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise CourseError(
            f"{readme.name} has no lesson table markers: put a line `{TABLE_START}` and, below it, "
            f"a line `{TABLE_END}` where the table of lessons goes, then run `course sync`"
        )
    return start + len(TABLE_START), end


def readme_with_table(root: Path, config: CourseConfig) -> tuple[str, str]:
    """The README text as it is, and as it should be with an up-to-date lesson table."""
    readme = root / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as error:
        raise CourseError(f"cannot read {readme.name} ({error.strerror}): restore it from git") from None
    start, end = _table_span(readme, text)
    return text, f"{text[:start]}\n{lesson_table(root, config)}\n{text[end:]}"


def write_lesson_table(root: Path, config: CourseConfig) -> bool:
    """Regenerate the README lesson table from ``lessons/``; True if the README changed."""
    current, wanted = readme_with_table(root, config)
    if current == wanted:
        return False
    write_text_atomic(root / "README.md", wanted)
    return True
