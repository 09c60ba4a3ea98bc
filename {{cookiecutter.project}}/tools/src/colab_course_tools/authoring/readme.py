"""The README's table of lessons (titles, "Open in Colab" badges) and its links into Colab.

Standard library only: the template's post-generation hook runs this code (through ``fixes``).
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import atomic, notebooks
from ..config import CourseConfig
from ..errors import CourseError
from ..formatting import escape_markdown
from ..lessons import LESSON_NAME, lesson_files

TABLE_START = "<!-- lessons:start -->"
TABLE_END = "<!-- lessons:end -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def lesson_title(notebook: Path) -> str:
    """The text of the lesson's first markdown heading, else a title made from its file name."""
    try:
        cells = notebooks.cells(notebooks.read_notebook(notebook))
    except CourseError:
        cells = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in notebooks.cell_source(cell).splitlines():
                heading = re.fullmatch(r"\s{0,3}#{1,6}\s+(.+?)\s*#*\s*", line)
                if heading:
                    return heading.group(1)
    slug = LESSON_NAME.fullmatch(notebook.name)
    return (slug.group("slug") if slug else notebook.stem).replace("_", " ").capitalize()


def lesson_table(root: Path, config: CourseConfig) -> str:
    """The markdown table of lessons with their "Open in Colab" badges, one line per lesson and no padding,
    so adding a lesson adds one line and changes no other. A lesson with exercises links its student version."""
    from ..exercises import opened_folder

    lines = ["| # | Lesson | Open |", "| --- | --- | --- |"]
    for notebook in lesson_files(root, strict=True):
        number = LESSON_NAME.fullmatch(notebook.name)["number"]
        title = escape_markdown(lesson_title(notebook))
        folder = opened_folder(notebook)
        badge = f"[![Open In Colab]({COLAB_BADGE})]({config.colab_url(notebook.name, folder)})"
        lines.append(f"| {number} | [{title}]({folder}/{notebook.name}) | {badge} |")
    return "\n".join(lines)


MARKERS_FIX = f"put a line `{TABLE_START}` and, below it, a line `{TABLE_END}` where the table of lessons goes"


def table_span(text: str) -> tuple[int, int] | None:
    """Start and end offsets of the text between the two table markers, None if they are missing."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    return (start + len(TABLE_START), end) if 0 <= start < end else None


def readme_with_table(root: Path, config: CourseConfig) -> tuple[str, str]:
    """The README text as it is, and as it should be with an up-to-date lesson table."""
    try:
        text = (root / "README.md").read_text(encoding="utf-8")
    except OSError as error:
        raise CourseError(
            f"cannot read README.md ({error.strerror}): restore it with `git checkout -- README.md`"
        ) from None
    span = table_span(text)
    if span is None:
        raise CourseError(f"README.md has no lesson table markers: {MARKERS_FIX}, then run `course sync`")
    return text, f"{text[: span[0]]}\n{lesson_table(root, config)}\n{text[span[1] :]}"


def write_lesson_table(root: Path, config: CourseConfig) -> bool:
    """Regenerate the README lesson table from ``lessons/``; True if the README changed."""
    current, wanted = readme_with_table(root, config)
    if current == wanted:
        return False
    atomic.write_text(root / "README.md", wanted)
    return True


COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/([^\s)\]\"'>`]+)")


def stale_colab_links(root: Path, config: CourseConfig, text: str) -> dict[str, str | None]:
    """Colab links in ``text`` that do not open a file of this repository (other user, repo or branch;
    a missing file), each with the link that would, or None if the file does not exist."""
    prefix = config.colab_url("")[: -len("lessons/")]  # the Colab URL of the repository's top folder
    stale = {}
    for match in COLAB_LINK.finditer(text):
        link = match.group(0)
        if link.startswith(prefix) and (root / link[len(prefix) :]).is_file():
            continue
        stale[link] = prefix + match.group(1) if (root / match.group(1)).is_file() else None
    return stale


def sync_readme(root: Path, config: CourseConfig) -> None:
    """Rewrite the lesson table, and Colab links that name another user, repository or branch."""
    try:
        current, wanted = readme_with_table(root, config)
    except CourseError:
        return  # no README or no table markers: reported by check_readme
    for link, fixed in stale_colab_links(root, config, wanted).items():
        wanted = wanted.replace(link, fixed) if fixed else wanted
    if wanted != current:
        atomic.write_text(root / "README.md", wanted)
