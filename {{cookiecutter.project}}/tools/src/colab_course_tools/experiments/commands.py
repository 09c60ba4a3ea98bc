"""`course run`, `course sweep` and `course runs`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from ..harness import limits
from ..options import (
    CELL_TIMEOUT,
    COLD,
    FULL,
    LESSON,
    NO_BANDS,
    PARAM,
    QUIET,
    VALUES_JSON,
    WORKERS,
    Command,
    argument,
    minutes,
)


def run_lesson(args) -> int:
    """`course run LESSON [-p NAME VALUE]... [--full] [--run-id ID]`."""
    from ..config import course_root
    from ..harness import processes
    from ..overrides import check_overrides, parse_overrides
    from .execution import execute_run, lesson_and_parameters

    root = course_root()
    notebook, parameters = lesson_and_parameters(root, args.lesson)
    if args.values_json is not None:  # from a sweep: values as JSON, read back exactly
        overrides = check_overrides(notebook.stem, json.loads(args.values_json), parameters)
    else:
        overrides = parse_overrides(notebook.stem, args.param, parameters)
    if os.environ.get("COURSE_DIE_WITH_PARENT") == "1":  # a run of `course sweep`: it must not outlive the sweep
        processes.die_with_parent(signal.SIGTERM)
    try:
        with processes.batch():  # `kill PID` and a closed terminal stop a run as cleanly as Ctrl-C
            record = execute_run(
                root,
                notebook,
                parameters,
                overrides,
                full=args.full,
                run_id=args.run_id,
                cell_timeout=args.cell_timeout,
                force=args.force,
                quiet=args.quiet,
                cold=args.cold,
                check_bands=not args.no_bands,
            )
    except KeyboardInterrupt as stop:
        signum = processes.signum_of(stop)
        print(f"course run: stopped by {processes.signal_name(signum)}; the run is recorded as interrupted")
        return 128 + signum
    return 0 if record is None or record.status == "passed" else 1


def sweep_lesson(args) -> int:
    """`course sweep LESSON -p NAME V1,V2 ... [-n WORKERS] [--full]`."""
    from ..config import course_root
    from ..harness import processes
    from ..overrides import parse_grid
    from . import sweeps
    from .execution import lesson_and_parameters

    root = course_root()
    notebook, parameters = lesson_and_parameters(root, args.lesson)
    grid = parse_grid(notebook.stem, args.param, parameters)
    try:
        with processes.stop_on_signals():  # they stop the running runs too (they have their own sessions)
            _, failed = sweeps.sweep(
                root,
                notebook.stem,
                grid,
                workers=args.workers,
                full=args.full,
                cell_timeout=args.cell_timeout,
                quiet=args.quiet,
                cold=args.cold,
                on=args.on,
                slurm=slurm_settings(root, args),
            )
    except KeyboardInterrupt as stop:
        return 128 + processes.signum_of(stop)
    return 1 if failed else 0


def record_bands(args) -> int:
    from .recording import record_bands as record

    return record(args)


def slurm_settings(root, args) -> dict:
    """``[tool.course.slurm]`` (partition, time in minutes, gpus, account), each overridden by its flag."""
    import tomllib

    try:
        table = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["course"]["slurm"]
    except (OSError, ValueError, KeyError, TypeError):
        table = {}
    settings = dict(table) if isinstance(table, dict) else {}
    for name in ("partition", "time", "gpus", "account"):  # `course grade --on slurm` has the table only
        if getattr(args, name, None) is not None:
            settings[name] = getattr(args, name)
    return settings


def list_past_runs(args) -> int:
    """`course runs [LESSON] [--csv]`: a table of past runs, or every parameter and metric as CSV."""
    from ..config import course_root
    from ..formatting import markdown_table, shown
    from .execution import lesson_stem
    from .store import list_runs, runs_dir

    root = course_root()
    lesson = lesson_stem(root, args.lesson) if args.lesson else None
    if args.chart:
        return _chart(root, lesson, Path(args.chart))
    found = list_runs(root, lesson)
    if not found and not args.csv:
        where = runs_dir(root) / (lesson or "")
        print(f"no runs in {shown(where)} yet: start one with `course run {args.lesson or 'LESSON'}`")
        return 0
    if args.csv:
        print(_runs_csv(found), end="")
        return 0
    columns = ["lesson", "run", "status", "started", "seconds", "parameters", "headline"]
    print(markdown_table(columns, [_listing_row(record) for record in found], right=("seconds",)), end="")
    return 0


def _chart(root: Path, lesson: str | None, path: Path) -> int:
    """`course runs LESSON --chart FILE.png`: the lesson's headline over its band's runs and the checked runs since."""
    from ..errors import CourseError
    from ..formatting import shown
    from ..metric_bands import read_bands
    from .charts import draw, panels

    if lesson is None:
        raise CourseError("--chart: name the lesson, e.g. course runs 01 --chart 01.png")
    draw(lesson, panels(read_bands(root), root / "build", lesson), path)
    print(f"chart: {shown(path.resolve())}")
    return 0


def _runs_csv(found: list) -> str:
    """One row per run: where and how it ran, every parameter it ran with, its latest metrics."""
    from ..formatting import csv_text
    from .store import read_params

    rows, parameter_names, metric_names = [], {}, {}
    for record in found:
        values = read_params(record.directory)
        latest = {
            name: value
            for name, value in record.metrics.get("latest", {}).items()
            if not isinstance(value, (list, dict))
        }
        parameter_names.update(dict.fromkeys(values))
        metric_names.update(dict.fromkeys(latest))
        rows.append(
            {
                "lesson": record.lesson,
                "run": record.run_id,
                "status": record.status,
                "started": record.info.get("started"),
                "seconds": record.info.get("seconds"),
                **{f"param.{name}": value for name, value in values.items()},
                **{f"metric.{name}": value for name, value in latest.items()},
            }
        )
    columns = ["lesson", "run", "status", "started", "seconds"]
    columns += [f"param.{name}" for name in parameter_names] + [f"metric.{name}" for name in metric_names]
    return csv_text(columns, rows)


def _listing_row(record) -> dict:
    from ..formatting import cell
    from ..metrics_file import headline
    from ..overrides import as_flags

    overrides = {key: value for key, value in record.info.get("overrides", {}).items() if key != "smoke"}
    smoke = record.info.get("overrides", {}).get("smoke")
    name, value, _ = headline(record.metrics)
    return {
        "lesson": record.lesson,
        "run": record.run_id,
        "status": record.status,
        "started": (record.info.get("started") or "")[:19].replace("T", " "),
        "seconds": record.info.get("seconds"),
        "parameters": ("smoke " if smoke else "full " if smoke is False else "") + as_flags(overrides),
        "headline": f"{name}={cell(value)}" if name else "",
    }


CELL_LIMIT = f"(default {minutes(limits.cell_limit())}, {minutes(limits.cell_limit(full_run=True))} with --full)"
COMMANDS = [
    Command(
        "run",
        help="execute one lesson with parameter overrides, saved under build/runs/",
        description="Execute a lesson (smoke-sized unless --full) into build/runs/LESSON/RUN-ID/ with its "
        "parameters, environment and metrics. The same --run-id again resumes an interrupted run.",
        handler=run_lesson,
        arguments=(
            LESSON,
            PARAM,
            VALUES_JSON,
            FULL,
            argument("--run-id", default=None, help="name the run; an existing run's id resumes it"),
            argument("--force", action="store_true", help="run a run id that passed already again, from the start"),
            QUIET.but(help="no live progress while the lesson runs"),
            CELL_TIMEOUT.but(help=f"limit per cell {CELL_LIMIT}"),
            COLD,
            NO_BANDS,
        ),
    ),
    Command(
        "sweep",
        help="run a grid of parameter values and tabulate the results",
        description="Run every combination of the values given (one `course run` each) and write "
        "build/runs/LESSON/sweep-ID.md and .csv, the best run marked by the lesson's headline metric.",
        handler=sweep_lesson,
        arguments=(
            LESSON,
            PARAM.but(
                metavar=("NAME", "V1,V2,..."),
                help="values to try for a parameter, comma-separated (-p NAME=V1,V2 works too); every combination runs",
            ),
            WORKERS.but(
                default=None,
                help="runs in parallel (default 1; with --on dask the cluster's workers, the machine's cores for a "
                "local one; with --on slurm every run at once, queued by Slurm)",
            ),
            QUIET.but(help="no live progress while runs run"),
            FULL,
            CELL_TIMEOUT.but(help=f"limit per cell of each run {CELL_LIMIT}"),
            COLD,
            argument(
                "--on",
                default="local",
                metavar="ENGINE",
                help="where the runs run: local (default), dask (a local Dask cluster), dask://HOST:PORT (an existing "
                "scheduler), slurm (one job per run, through submitit) or submitit-local; Dask and Slurm need the "
                "course folder at the same path on their workers",
            ),
            argument("--partition", default=None, help="Slurm partition (else [tool.course.slurm] partition)"),
            argument("--time", type=int, default=None, metavar="MINUTES", help="Slurm time limit per run"),
            argument("--gpus", type=int, default=None, help="GPUs per Slurm job"),
            argument("--account", default=None, help="Slurm account"),
        ),
    ),
    Command(
        "runs",
        help="list past runs with their parameters and headline metric",
        handler=list_past_runs,
        arguments=(
            argument("lesson", nargs="?", metavar="LESSON", help="only this lesson's runs"),
            argument(
                "--csv",
                action="store_true",
                help="every parameter and latest metric of each run, as CSV (for a spreadsheet)",
            ),
            argument(
                "--chart",
                default=None,
                metavar="FILE",
                help="write LESSON's headline metric over its band's runs and the checked runs since, with the "
                "band, as FILE (.png or .svg)",
            ),
        ),
    ),
    Command(
        "bands",
        help="record the range of each lesson's final metrics over honest runs (lesson-bands.json)",
        subcommands=(
            Command(
                "record",
                help="run lessons K times with new seeds and write the band of each final metric",
                description="Run each lesson (all by default) --runs times with new seeds, smoke-sized unless "
                "--full, on this machine's device, and write the band of each final metric it logs to "
                "lesson-bands.json, keyed by lesson, mode and device kind, with how it was recorded. The old and "
                "new bands are shown side by side first. `course test` and `course run` then fail a lesson whose "
                "metrics leave its band.",
                handler=record_bands,
                arguments=(
                    argument("lessons", nargs="*", metavar="LESSON", help="lesson file or name, e.g. 01"),
                    argument("--runs", type=int, default=5, metavar="K", help="runs per lesson (default 5)"),
                    FULL,
                    WORKERS,
                    COLD,
                    QUIET,
                    PARAM.but(help="set a parameter for every run (recorded with the band); -p seed is not allowed"),
                ),
            ),
        ),
    ),
]
