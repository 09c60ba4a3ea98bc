"""The `course` command: one subcommand per task, each handled in the module of its concern.

Expected failures raise ``CourseError`` and end as one line on stderr with exit code 1.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import CourseError


def _add_env(sub):
    p = sub.add_parser("env", help="show runtime, device, paths and library versions")
    p.set_defaults(handler="environment:cli_env")


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
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="limit per lesson")
    p.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS", help="limit per cell")
    p.add_argument("--report", default=None, metavar="DIR", help="where report.json/report.md go (default build/)")
    p.add_argument("--force", action="store_true", help="re-run lessons even when unchanged")
    p.add_argument(
        "-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="set a parameter in the lessons that declare it, e.g. -p data_url http://mirror/archive.tgz",
    )
    p.set_defaults(handler="harness:cli_test")


def _add_authoring(sub):
    p = sub.add_parser("new", help="add the next numbered lesson and list it in the README")
    p.add_argument("title", help='lesson title, e.g. "Convolutions"')
    p.set_defaults(handler="authoring:cli_new")
    p = sub.add_parser("check", help="list every problem in lessons, README and repo; exit 1 if any")
    p.set_defaults(handler="authoring:cli_check")
    p = sub.add_parser("sync", help="fix what can be fixed automatically, report the rest")
    p.set_defaults(handler="authoring:cli_sync")


def _add_experiments(sub):
    lesson_help = "lesson number, name or file, e.g. 01"
    p = sub.add_parser(
        "run",
        help="execute one lesson with parameter overrides, saved under build/runs/",
        description="Execute a lesson (smoke-sized unless --full) into build/runs/LESSON/RUN-ID/ with its "
                    "parameters, environment and metrics. The same --run-id again resumes an interrupted run.",
    )
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a parameter; VALUE is a Python literal (3e-3, True, [64, 128]) or plain text "
                        "where the default is text")
    p.add_argument("--full", action="store_true", help="full parameters instead of smoke")
    p.add_argument("--run-id", default=None, help="name the run; an existing run's id resumes it")
    p.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                   help="limit per cell (default 30 minutes for smoke runs, a week with --full)")
    p.set_defaults(handler="experiments:cli_run")
    p = sub.add_parser(
        "sweep",
        help="run a grid of parameter values and tabulate the results",
        description="Run every combination of the values given (one `course run` each) and write "
                    "build/runs/LESSON/sweep-ID.md and .csv, the best run marked by the lesson's headline metric.",
    )
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "V1,V2,..."),
                   help="values to try for a parameter, comma-separated; every combination runs")
    p.add_argument("-n", "--workers", type=int, default=1, help="runs in parallel (default 1)")
    p.add_argument("--full", action="store_true", help="full parameters instead of smoke")
    p.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                   help="limit per cell of each run (default 30 minutes for smoke runs, a week with --full)")
    p.set_defaults(handler="experiments:cli_sweep")
    p = sub.add_parser("runs", help="list past runs with their parameters and headline metric")
    p.add_argument("lesson", nargs="?", metavar="LESSON", help="only this lesson's runs")
    p.set_defaults(handler="experiments:cli_runs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_env, _add_test, _add_authoring, _add_experiments):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, function_name = args.handler.split(":")
    handler = getattr(importlib.import_module(f".{module_name}", __package__), function_name)
    try:
        return handler(args) or 0
    except CourseError as error:
        print(f"course {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
