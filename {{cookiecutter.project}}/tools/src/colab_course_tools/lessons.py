"""Which files are lessons: ``lessons/NN_slug.ipynb`` in order, never a Drive copy, and the lessons a
command names (``1``, ``01``, ``01_first_model``, a path). Standard library only (the template's hook uses it).
"""

from __future__ import annotations

import re
from pathlib import Path

from .drive import original_of
from .errors import CourseError
from .formatting import closest

LESSON_NAME = re.compile(r"(?P<number>\d{2,})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.ipynb")


def lesson_files(root: Path, *, strict: bool = False) -> list[Path]:
    """The notebooks in ``<root>/lessons``, in order.

    Hidden files and Google Drive copies (``01_intro (1).ipynb`` beside ``01_intro.ipynb``) are
    never lessons. ``strict`` keeps only well-named ones (``NN_slug.ipynb``): those the README lists.
    """
    folder = Path(root) / "lessons"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.ipynb")):
        copied = original_of(path)
        if path.name.startswith(".") or (copied is not None and copied.is_file()):
            continue
        if strict and not LESSON_NAME.fullmatch(path.name):
            continue
        found.append(path)
    return found


def lesson_number(path: Path) -> int | None:
    """The ``NN`` of ``NN_slug.ipynb``; None for a name that does not follow the pattern."""
    match = LESSON_NAME.fullmatch(Path(path).name)
    return int(match["number"]) if match else None


def resolve_lessons(root: Path, names) -> list[Path]:
    """Lesson files for names such as ``1``, ``01``, ``01_first_model`` or ``lessons/01_first_model.ipynb``.

    No names means every lesson. An unknown or ambiguous name raises ``CourseError`` listing the lessons.
    """
    lessons = lesson_files(root)
    if not names:
        return lessons
    chosen: list[Path] = []
    for name in names:
        matches = _matching(lessons, str(name), Path(root))
        if len(matches) != 1:
            available = ", ".join(p.stem for p in lessons) or "none (lessons/ is empty)"
            problem = "is ambiguous" if matches else "is not a lesson"
            guess = None if matches else closest(Path(str(name)).name.removesuffix(".ipynb"), [p.stem for p in lessons])
            hint = f" (did you mean {guess}?)" if guess else ""
            raise CourseError(
                f"{name!r} {problem}{hint}: give a number, name or file of one of the lessons: {available}"
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _matching(lessons: list[Path], name: str, root: Path) -> list[Path]:
    as_path = Path(name).expanduser()
    for candidate in (as_path, root / as_path, root / "lessons" / as_path):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return [p for p in lessons if p.resolve() == candidate.resolve()]
    stem = as_path.name.removesuffix(".ipynb")
    exact = [p for p in lessons if p.stem == stem]
    number = int(stem) if stem.isdigit() else None  # 1, 01 and 001 all name lesson 01
    return exact or [
        p for p in lessons if p.stem.split("_", 1)[0] == stem or (number is not None and lesson_number(p) == number)
    ]
