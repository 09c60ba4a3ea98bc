"""Parameter overrides from the command line (``-p NAME VALUE``), checked against a lesson's defaults.

Values are read as Python literals (``3``, ``1e-3``, ``True``, ``None``, ``[32, 64]``,
``'text'``). Plain text without quotes is accepted only where it cannot mean anything else:
when the lesson's default for that name is a string (``-p device cuda``, ``-p data_url https://...``),
where a value that reads as a number is kept as the text typed (``-p label 1234`` is "1234");
and when the default is None and the text is one bare word that is no literal
(``-p data_sha256 e3b0c442...``). Anything else needs quotes: ``-p name "'two words'"``.
A value must also fit the default's type (an int where the default is an int, a number where it
is a float, ...), so typos such as ``-p epochs 2.5`` or ``-p smoke 0`` fail before anything runs.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable

from ..errors import CourseError

_JSON_TYPES = (type(None), bool, int, float, str, list, dict)
_BARE_WORD = re.compile(r"[^\s\[\](){}'\",]+")  # no spaces, brackets, quotes or commas


def parse_overrides(lesson: str, pairs: Iterable[tuple[str, str]], defaults: dict) -> dict:
    """``{name: value}`` from ``-p NAME VALUE`` pairs; one clear ``CourseError`` for the first bad one."""
    values: dict = {}
    for name, text in pairs:
        check_name(lesson, name, defaults, seen=values)
        values[name] = parse_value(name, text, defaults[name])
    return values


def parse_grid(lesson: str, pairs: Iterable[tuple[str, str]], defaults: dict) -> dict[str, list]:
    """``{name: [value, ...]}`` from ``-p NAME V1,V2,...`` pairs (commas inside brackets or quotes kept)."""
    grid: dict[str, list] = {}
    for name, text in pairs:
        check_name(lesson, name, defaults, seen=grid)
        grid[name] = [parse_value(name, choice, defaults[name]) for choice in split_choices(name, text)]
    return grid


def check_overrides(lesson: str, values: dict, defaults: dict) -> dict:
    """Check overrides given as Python values (``course.experiments.run(lesson, lr=3e-3)``)."""
    for name, value in values.items():
        check_name(lesson, name, defaults)
        check_value(name, value, defaults[name])
    return values


def check_name(lesson: str, name: str, defaults: dict, seen: Iterable[str] = ()) -> None:
    if name in seen:
        raise CourseError(f"parameter {name!r} is given twice: give each -p NAME once")
    if name in defaults:
        return
    close = difflib.get_close_matches(name, defaults, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = ", ".join(defaults) or "none (the lesson has no cell tagged 'parameters')"
    raise CourseError(f"{lesson} has no parameter {name!r}{hint}; its parameters are: {known}")


def parse_value(name: str, text: str, default):
    """One ``-p`` value as the Python value it stands for (rules in the module docstring)."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = _UNREADABLE
    if isinstance(default, str) and not (value is None or isinstance(value, str)):
        return text
    if value is _UNREADABLE and default is None and _BARE_WORD.fullmatch(text):
        return text
    if value is _UNREADABLE and default is None:
        raise CourseError(
            f"-p {name} {text}: not a Python literal (number, True/False, None, list, ...); "
            f"to pass it as text, quote it: -p {name} \"'{text}'\""
        )
    if value is _UNREADABLE:
        raise CourseError(
            f"-p {name} {text}: not a value like the default {name}={default!r}; "
            f"write e.g. -p {name} {_example(default)}"
        )
    return check_value(name, value, default)


def as_text(name: str, value, default) -> str:
    """The shortest ``-p`` text that ``parse_value`` reads back as ``value`` (for commands we print)."""
    if isinstance(value, str):
        try:
            if parse_value(name, value, default) == value:
                return value
        except CourseError:
            pass
    return repr(value)


def check_value(name: str, value, default):
    """``value`` if it fits the default's type and can be stored as JSON; ``CourseError`` otherwise."""
    if not _json_safe(value):
        raise CourseError(f"parameter {name}={value!r}: use None, True/False, numbers, strings, or lists/dicts of them")
    if not _fits(value, default):
        raise CourseError(
            f"parameter {name}={value!r} does not fit its default {default!r} "
            f"({type(default).__name__}): write e.g. -p {name} {_example(default)}"
        )
    return value


def as_flags(overrides: dict) -> str:
    """Overrides as ``name=value`` words (``smoke`` left out: tables say smoke or full elsewhere)."""
    return " ".join(f"{name}={value!r}" for name, value in overrides.items() if name != "smoke")


def split_choices(name: str, text: str) -> list[str]:
    """``"1e-3,3e-3"`` -> ``["1e-3", "3e-3"]``; ``"[1,2],[3]"`` -> ``["[1,2]", "[3]"]``."""
    source = f"[{text}]"
    try:
        elements = ast.parse(source, mode="eval").body.elts
        choices = [ast.get_source_segment(source, element) for element in elements]
    except SyntaxError:
        choices = [part.strip() for part in text.split(",")]
    if not choices or any(not choice for choice in choices):
        raise CourseError(f"-p {name} {text!r}: give values separated by commas, e.g. -p {name} 1,2")
    return choices


_UNREADABLE = object()  # what a value that is not a Python literal parses to


def _fits(value, default) -> bool:
    if value is None or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        return isinstance(value, list)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True  # a default that is not a plain literal: nothing to compare with


def _json_safe(value) -> bool:
    if isinstance(value, list):
        return all(_json_safe(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_safe(item) for key, item in value.items())
    return isinstance(value, _JSON_TYPES)


def _example(default) -> str:
    if isinstance(default, bool):
        return "True"
    if isinstance(default, (int, float)):
        return repr(default)
    if isinstance(default, (list, dict)):
        return f'"{default!r}"'
    return "VALUE"
