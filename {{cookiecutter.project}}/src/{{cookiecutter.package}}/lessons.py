"""The lesson files: their names, titles, the next free number, and the README table of lessons.

Standard library only: the template's post-generation hook imports the package from a freshly
generated course with cookiecutter's interpreter, before any dependency is installed.
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from . import atomic, lesson_format
from .config import CourseConfig
from .errors import CourseError

TABLE_START = "<!-- lessons:start -->"
TABLE_END = "<!-- lessons:end -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LESSON_NAME = re.compile(r"(?P<number>\d{2,})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.ipynb")


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
            for line in lesson_format.cell_source(cell).splitlines():
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
        raise CourseError(f"cannot read README.md ({error.strerror}): restore it with `git checkout -- README.md`") from None
    span = table_span(text)
    if span is None:
        raise CourseError(f"README.md has no lesson table markers: {MARKERS_FIX}, then run `course sync`")
    return text, f"{text[:span[0]]}\n{lesson_table(root, config)}\n{text[span[1]:]}"


def write_lesson_table(root: Path, config: CourseConfig) -> bool:
    """Regenerate the README lesson table from ``lessons/``; True if the README changed."""
    current, wanted = readme_with_table(root, config)
    if current == wanted:
        return False
    atomic.write_text(root / "README.md", wanted)
    return True


_TRANSLITERATION = str.maketrans({
    # Cyrillic (Russian, Ukrainian, Belarusian, Bulgarian), before NFKD splits й and ё
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "yo", "є": "ye",
    "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ў": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e",
    "ю": "yu", "я": "ya",
    # Greek
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i",
    "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s",
    "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
    # Latin letters that NFKD does not decompose
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
})


def slugify(title: str, max_length: int = 40) -> str:
    """ASCII file-name slug of a title in any script; ``lesson`` when nothing is left (e.g. Chinese)."""
    text = unicodedata.normalize("NFKD", title.lower().translate(_TRANSLITERATION))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_TRANSLITERATION)
    slug = re.sub(r"[^a-z0-9]+", "_", text.encode("ascii", "ignore").decode()).strip("_")
    return slug[:max_length].rstrip("_") or "lesson"


def next_lesson_path(root: Path, title: str) -> Path:
    """``lessons/NN_slug.ipynb`` numbered after the last lesson."""
    numbers = [int(LESSON_NAME.fullmatch(p.name).group("number")) for p in lesson_files(root)]
    number = max(numbers) + 1 if numbers else 0
    return root / "lessons" / f"{number:02d}_{slugify(title)}.ipynb"
