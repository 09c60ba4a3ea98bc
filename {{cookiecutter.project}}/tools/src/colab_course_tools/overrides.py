"""Parameter values from the command line, checked against a lesson's parameters (types and
``ALLOWED``: see ``parameters``) before anything runs: the one reader of ``-p`` for `course test`,
`course run` and `course sweep`.

``-p NAME VALUE`` and ``-p NAME=VALUE`` are the same (``options.split_assignments``); a sweep gives
several values, comma-separated (``parse_grid``). Values that cross to another process (a sweep's
runs) travel as JSON, never as text to be read again.

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
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import CourseError
from .formatting import closest
from .parameters import Parameters, check_type, example

_BARE_WORD = re.compile(r"[^\s\[\](){}'\",]+")  # no spaces, brackets, quotes or commas


def for_lessons(pairs: Iterable[tuple[str, str]], declared: dict[Path, Parameters]) -> dict[Path, dict]:
    """`course test`'s ``-p``: each lesson's values for the names it declares; a name no lesson
    declares stops the run before anything starts."""
    pairs = list(pairs)
    every = {name: None for parameters in declared.values() for name in parameters.defaults}
    for name, _ in pairs:
        if name not in every:
            raise CourseError(
                f"-p {name}: none of the chosen lessons has a parameter {name!r}{_hint(name, every)}; "
                "see the cell tagged 'parameters' in each lesson"
            )
    return {
        lesson: parse_overrides(lesson.stem, [pair for pair in pairs if pair[0] in parameters.defaults], parameters)
        for lesson, parameters in declared.items()
    }


def parse_overrides(lesson: str, pairs: Iterable[tuple[str, str]], parameters: Parameters) -> dict:
    """``{name: value}`` from ``-p NAME VALUE`` pairs of `course run`; one clear ``CourseError`` for the first bad one."""
    values: dict = {}
    for name, text in pairs:
        check_name(lesson, name, parameters.defaults, seen=values)
        try:
            values[name] = parameters.check(name, parse_value(name, text, parameters.defaults[name]))
        except CourseError as error:
            raise _sweep_hint(lesson, name, text, parameters) or _for_option(name, text, error) from None
    return values


def parse_grid(lesson: str, pairs: Iterable[tuple[str, str]], parameters: Parameters) -> dict[str, list]:
    """``{name: [value, ...]}`` from ``-p NAME V1,V2,...`` pairs (commas inside brackets or quotes kept)."""
    grid: dict[str, list] = {}
    for name, text in pairs:
        check_name(lesson, name, parameters.defaults, seen=grid)
        grid[name] = []
        for choice in split_choices(name, text):
            try:
                grid[name].append(parameters.check(name, parse_value(name, choice, parameters.defaults[name])))
            except CourseError as error:
                raise _for_option(name, choice, error) from None
    return grid


def check_overrides(lesson: str, values: dict, parameters: Parameters) -> dict:
    """Check overrides given as Python values (``experiments.run(lesson, lr=3e-3)``)."""
    for name, value in values.items():
        check_name(lesson, name, parameters.defaults)
        parameters.check(name, value)
    return values


def check_name(lesson: str, name: str, defaults: dict, seen: Iterable[str] = ()) -> None:
    if name in seen:
        raise CourseError(f"parameter {name!r} is given twice: give each -p NAME once")
    if name in defaults:
        return
    known = ", ".join(defaults) or "none (the lesson has no cell tagged 'parameters')"
    raise CourseError(f"{lesson} has no parameter {name!r}{_hint(name, defaults)}; its parameters are: {known}")


def _hint(name: str, names) -> str:
    close = closest(name, names)
    return f" (did you mean {close!r}?)" if close else ""


def parse_value(name: str, text: str, default):
    """One ``-p`` value as the Python value it stands for (rules in the module docstring), type-checked."""
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
            f"-p {name} {text}: not a value like the default {name}={default!r}; write e.g. -p {name} {example(default)}"
        )
    return check_type(name, value, default)


def as_text(name: str, value, default) -> str:
    """The shortest ``-p`` text that ``parse_value`` reads back as ``value`` (for commands we print)."""
    if isinstance(value, str):
        try:
            if parse_value(name, value, default) == value:
                return value
        except CourseError:
            pass
    return repr(value)


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


def _for_option(name: str, text: str, error: CourseError) -> CourseError:
    """A value's error as the ``-p`` option that caused it."""
    message = str(error)
    return error if message.startswith(f"-p {name} ") else CourseError(f"-p {name} {text}: {message}")


def _sweep_hint(lesson: str, name: str, text: str, parameters: Parameters) -> CourseError | None:
    """Several comma-separated values that each work: what `course sweep` is for."""
    if isinstance(parameters.defaults[name], (list, tuple, dict)) or "," not in text:
        return None
    try:
        choices = split_choices(name, text)
        for choice in choices:
            parameters.check(name, parse_value(name, choice, parameters.defaults[name]))
    except CourseError:
        return None
    if len(choices) < 2:
        return None
    return CourseError(
        f"-p {name} {text}: `course run` takes one value per parameter; to try each of them, "
        f"run `course sweep {lesson} -p {name} {text}`"
    )
