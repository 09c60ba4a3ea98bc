"""Run this course's lessons as CI does, try other parameters, add lessons and keep the course tidy.

Each concern declares its subcommands beside its logic (``<concern>.commands.COMMANDS``, made of
``options.Command``); ``REGISTERED`` below is the one table of them. Expected failures raise
``CourseError`` and end as one line on stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import sys

from .errors import CourseError
from .options import Command, split_assignments


def registered() -> list[Command]:
    """Every subcommand, in the order `course --help` lists them; adding a command is one entry in a
    concern's ``COMMANDS``."""
    from .authoring import commands as authoring
    from .exercises import commands as exercises
    from .experiments import commands as experiments
    from .harness import commands as harness
    from .site import commands as site

    return [
        *harness.COMMANDS,
        *authoring.COMMANDS,
        *exercises.COMMANDS,
        *experiments.COMMANDS,
        *site.COMMANDS,
    ]


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end in one line naming the mistake and where help is, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _add(sub, command: Command) -> None:
    parser = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
    for argument in command.arguments:
        parser.add_argument(*argument.flags, **argument.settings)
    if command.subcommands:
        group = parser.add_subparsers(dest=f"{command.name}_command", required=True, metavar="COMMAND")
        for subcommand in command.subcommands:
            _add(group, subcommand)
    else:
        parser.set_defaults(handler=command.handler)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for command in registered():
        _add(sub, command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(split_assignments(sys.argv[1:] if argv is None else argv))
    try:
        return args.handler(args) or 0
    except CourseError as error:
        print(f"course {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
