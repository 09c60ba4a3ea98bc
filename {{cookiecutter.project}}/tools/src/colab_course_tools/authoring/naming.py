"""Lesson file names: ``NN_slug.ipynb``, with an ASCII slug made from a title in any script."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ..lessons import lesson_files, lesson_number

_TRANSLITERATION = str.maketrans(
    {
        # Cyrillic (Russian, Ukrainian, Belarusian, Bulgarian), before NFKD splits й and ё
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ґ": "g",
        "д": "d",
        "е": "e",
        "ё": "yo",
        "є": "ye",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "і": "i",
        "ї": "yi",
        "й": "y",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ў": "u",
        "ф": "f",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
        # Greek
        "α": "a",
        "β": "v",
        "γ": "g",
        "δ": "d",
        "ε": "e",
        "ζ": "z",
        "η": "i",
        "θ": "th",
        "ι": "i",
        "κ": "k",
        "λ": "l",
        "μ": "m",
        "ν": "n",
        "ξ": "x",
        "ο": "o",
        "π": "p",
        "ρ": "r",
        "σ": "s",
        "ς": "s",
        "τ": "t",
        "υ": "y",
        "φ": "f",
        "χ": "ch",
        "ψ": "ps",
        "ω": "o",
        # Latin letters that NFKD does not decompose
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
    }
)


def slugify(title: str, max_length: int = 40) -> str:
    """ASCII file-name slug of a title in any script; ``lesson`` when nothing is left (e.g. Chinese)."""
    text = unicodedata.normalize("NFKD", title.lower().translate(_TRANSLITERATION))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_TRANSLITERATION)
    slug = re.sub(r"[^a-z0-9]+", "_", text.encode("ascii", "ignore").decode()).strip("_")
    return slug[:max_length].rstrip("_") or "lesson"


def next_lesson_path(root: Path, title: str) -> Path:
    """``lessons/NN_slug.ipynb`` numbered after the last lesson."""
    numbers = [lesson_number(p) for p in lesson_files(root, strict=True)]
    number = max(numbers) + 1 if numbers else 0
    return root / "lessons" / f"{number:02d}_{slugify(title)}.ipynb"
