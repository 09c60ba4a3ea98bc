"""The `course` command: one subcommand per task, each handled in the module of its concern.

Expected failures raise ``CourseError`` and end as one line on stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import math
import sys

from .errors import CourseError
from .harness import job


# Each handler imports its command's module only when that command runs: `course --help`
# and `import <package>` stay fast, and a reader (or a tool) sees exactly what each one calls.
def _env(args):
    from .bootstrap import cli_env

    return cli_env(args)


def _test(args):
    from .harness.command import cli_test

    return cli_test(args)


def _new(args):
    from .authoring.commands import cli_new

    return cli_new(args)


def _check(args):
    from .authoring.commands import cli_check

    return cli_check(args)


def _sync(args):
    from .authoring.commands import cli_sync

    return cli_sync(args)


def _colab_pins(args):
    from .authoring.colab_pins import cli_colab_pins

    return cli_colab_pins(args)


def _run(args):
    from .experiments.commands import cli_run

    return cli_run(args)


def _sweep(args):
    from .experiments.commands import cli_sweep

    return cli_sweep(args)


def _runs(args):
    from .experiments.commands import cli_runs

    return cli_runs(args)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds < 24 * 3600 else f"{seconds / (24 * 3600):g} days"


def _seconds(text: str) -> float:
    """A time limit: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds, e.g. 600") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} seconds: give a positive, finite number, e.g. 600")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end in one line naming the mistake and where help is, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _add_env(sub):
    p = sub.add_parser("env", help="show runtime, device, paths and library versions")
    p.set_defaults(handler=_env)


def _add_test(sub):
    p = sub.add_parser(
        "test",
        help="execute lessons with papermill and report what ran, where and how fast",
        description="Execute lessons (all by default); unchanged lessons that passed before are not re-run.",
    )
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="lesson file or name, e.g. 01 or 01_first_model")
    p.add_argument("--smoke", action="store_true", help="tiny, fast parameters (what CI runs)")
    p.add_argument("--gpu", action="store_true", help="fail lessons that did not run on CUDA")
    p.add_argument("-n", "--workers", type=int, default=1, help="lessons run in parallel (default 1)")
    p.add_argument("--shard", default=None, metavar="I/N", help="run only shard I of N (1-based), for split CI jobs")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=f"limit per lesson (default {_minutes(job.SMOKE_LESSON_TIMEOUT_S)} with --smoke, else none)",
    )
    p.add_argument(
        "--cell-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=f"limit per cell (default {_minutes(job.SMOKE_CELL_TIMEOUT_S)} with --smoke, else the lesson "
        f"limit or {_minutes(job.CELL_TIMEOUT_S)})",
    )
    p.add_argument("--report", default=None, metavar="DIR", help="where report.json/report.md go (default build/)")
    p.add_argument("--force", action="store_true", help="re-run lessons even when unchanged")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress while lessons run")
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter in the lessons that declare it (-p NAME VALUE or -p NAME=VALUE), "
        "e.g. -p data_url http://mirror/archive.tgz",
    )
    p.set_defaults(handler=_test)


def _add_authoring(sub):
    p = sub.add_parser("new", help="add the next numbered lesson and list it in the README")
    p.add_argument("title", help='lesson title, e.g. "Convolutions"')
    p.set_defaults(handler=_new)
    p = sub.add_parser("check", help="list every problem in lessons, README and repo; exit 1 if any")
    p.set_defaults(handler=_check)
    p = sub.add_parser("sync", help="fix what can be fixed automatically, report the rest")
    p.set_defaults(handler=_sync)
    from .authoring.colab_pins import FREEZE_URL, OS_INFO_URL

    p = sub.add_parser(
        "colab-pins",
        help="pin Colab's package versions in constraints/colab.txt and set the floors CI tests",
        description="Write constraints/colab.txt from the package list Colab publishes (the packages "
        "constraints/ci.txt pins, and Colab's Python), and set each floor in pyproject.toml to the "
        "oldest version CI tests.",
    )
    p.add_argument(
        "--freeze", default=FREEZE_URL, metavar="FILE_OR_URL", help="Colab's pip freeze (default: %(default)s)"
    )
    p.add_argument("--os-info", default=OS_INFO_URL, metavar="FILE_OR_URL", help="Colab's os-info, for its Python")
    p.set_defaults(handler=_colab_pins)


def _add_experiments(sub):
    lesson_help = "lesson number, name or file, e.g. 01"
    cell_limit = f"(default {_minutes(job.CELL_TIMEOUT_S)}, {_minutes(job.FULL_RUN_CELL_TIMEOUT_S)} with --full)"
    p = sub.add_parser(
        "run",
        help="execute one lesson with parameter overrides, saved under build/runs/",
        description="Execute a lesson (smoke-sized unless --full) into build/runs/LESSON/RUN-ID/ with its "
        "parameters, environment and metrics. The same --run-id again resumes an interrupted run.",
    )
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (-p NAME VALUE or -p NAME=VALUE); VALUE is a Python literal "
        "(3e-3, True, [64, 128]) or plain text where the default is text",
    )
    p.add_argument("--full", action="store_true", help="full parameters instead of smoke")
    p.add_argument("--run-id", default=None, help="name the run; an existing run's id resumes it")
    p.add_argument("--force", action="store_true", help="run a run id that passed already again, from the start")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress while the lesson runs")
    p.add_argument(
        "--cell-timeout", type=_seconds, default=None, metavar="SECONDS", help=f"limit per cell {cell_limit}"
    )
    p.set_defaults(handler=_run)
    p = sub.add_parser(
        "sweep",
        help="run a grid of parameter values and tabulate the results",
        description="Run every combination of the values given (one `course run` each) and write "
        "build/runs/LESSON/sweep-ID.md and .csv, the best run marked by the lesson's headline metric.",
    )
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "V1,V2,..."),
        help="values to try for a parameter, comma-separated (-p NAME=V1,V2 works too); every combination runs",
    )
    p.add_argument("-n", "--workers", type=int, default=1, help="runs in parallel (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress while runs run")
    p.add_argument("--full", action="store_true", help="full parameters instead of smoke")
    p.add_argument(
        "--cell-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=f"limit per cell of each run {cell_limit}",
    )
    p.set_defaults(handler=_sweep)
    p = sub.add_parser("runs", help="list past runs with their parameters and headline metric")
    p.add_argument("lesson", nargs="?", metavar="LESSON", help="only this lesson's runs")
    p.add_argument(
        "--csv", action="store_true", help="every parameter and latest metric of each run, as CSV (for a spreadsheet)"
    )
    p.set_defaults(handler=_runs)


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for add in (_add_env, _add_test, _add_authoring, _add_experiments):
        add(sub)
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
