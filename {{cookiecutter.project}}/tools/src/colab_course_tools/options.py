"""What a `course` subcommand is made of, and the options several commands share, defined once.

A concern declares its commands in its own ``commands`` module as a list of ``Command`` (name,
help, arguments, handler); ``cli`` registers those lists in one table and builds the parser from
them. A handler imports what it needs when it runs, so `course --help` loads nothing heavy.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Argument:
    """One ``add_argument`` call: its flags (or positional name) and its settings."""

    flags: tuple[str, ...]
    settings: dict = field(default_factory=dict)

    def but(self, **changes) -> Argument:
        """This argument with some settings changed (help, metavar, ...)."""
        return replace(self, settings={**self.settings, **changes})


def argument(*flags: str, **settings) -> Argument:
    return Argument(flags, settings)


@dataclass(frozen=True)
class Command:
    """A subcommand: ``course NAME``; ``handler(args)`` returns the exit status (None means 0).

    ``subcommands`` make a group (``course report merge``): then ``handler`` is unused.
    """

    name: str
    help: str
    handler: Callable | None = None
    arguments: tuple[Argument, ...] = ()
    description: str | None = None
    subcommands: tuple[Command, ...] = ()


def minutes(seconds: float) -> str:
    """A limit as people say it: ``30 minutes``, ``7 days``."""
    return f"{seconds / 60:g} minutes" if seconds < 24 * 3600 else f"{seconds / (24 * 3600):g} days"


def seconds(text: str) -> float:
    """A time limit: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds, e.g. 600") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} seconds: give a positive, finite number, e.g. 600")
    return value


def split_assignments(argv: list[str]) -> list[str]:
    """``-p NAME=VALUE`` (and ``--param NAME=VALUE``) as ``-p NAME VALUE``, the form the parser takes."""
    rewritten, after_option = [], False
    for token in argv:
        name, equals, value = token.partition("=")
        if after_option and equals and name.isidentifier():
            rewritten += [name, value]
        else:
            rewritten.append(token)
        after_option = token in ("-p", "--param")
    return rewritten


# -- shared by several commands -------------------------------------------------------------------
PARAM = argument(
    "-p",
    "--param",
    nargs=2,
    action="append",
    default=[],
    metavar=("NAME", "VALUE"),
    help="override a parameter (-p NAME VALUE or -p NAME=VALUE); VALUE is a Python literal (3e-3, True, "
    "[64, 128]) or plain text where the default is text",
)
# A run's values as JSON, from a program (a sweep) rather than a person: read back exactly.
VALUES_JSON = argument("--values-json", default=None, metavar="JSON", help=argparse.SUPPRESS)
TIMEOUT = argument("--timeout", type=seconds, default=None, metavar="SECONDS", help="limit per lesson")
CELL_TIMEOUT = argument("--cell-timeout", type=seconds, default=None, metavar="SECONDS", help="limit per cell")
QUIET = argument("-q", "--quiet", action="store_true", help="no live progress while lessons run")
COLD = argument(
    "--cold",
    action="store_true",
    help="start each lesson's kernel anew: fork none from a warm process (`course warm`, or the run's own)",
)
WORKERS = argument("-n", "--workers", type=int, default=1, help="lessons run in parallel (default 1)")
NO_BANDS = argument(
    "--no-bands",
    action="store_true",
    help="do not compare final metrics with the course's bands (lesson-bands.json); NaN still fails",
)
FULL = argument("--full", action="store_true", help="full parameters instead of smoke")
LESSON = argument("lesson", metavar="LESSON", help="lesson number, name or file, e.g. 01")
