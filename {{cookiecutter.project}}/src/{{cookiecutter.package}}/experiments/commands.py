"""`course run`, `course sweep` and `course runs`."""

from __future__ import annotations

import os
import signal

from ..config import course_root
from ..formatting import cell, csv_text, markdown_table, shown
from ..harness import processes
from ..metrics import headline
from . import sweeps
from .execution import execute_run, lesson_and_parameters, lesson_stem
from .overrides import as_flags, parse_grid, parse_overrides
from .store import Run, list_runs, read_params, runs_dir


def cli_run(args) -> int:
    """`course run LESSON [-p NAME VALUE]... [--full] [--run-id ID]`."""
    root = course_root()
    notebook, parameters = lesson_and_parameters(root, args.lesson)
    overrides = parse_overrides(notebook.stem, args.param, parameters)
    if os.environ.get("COURSE_DIE_WITH_PARENT") == "1":  # a run of `course sweep`: it must not outlive the sweep
        processes.die_with_parent(signal.SIGTERM)
    processes.become_subreaper()  # orphans of a worker that was killed come here, to be killed too
    try:
        with processes.stop_on_signals():  # `kill PID` and a closed terminal stop a run as cleanly as Ctrl-C
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
            )
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        print(f"course run: stopped by {processes.signal_name(signum)}; the run is recorded as interrupted")
        return 128 + signum
    finally:
        processes.kill_descendants()
    return 0 if record is None or record.status == "passed" else 1


def cli_sweep(args) -> int:
    """`course sweep LESSON -p NAME V1,V2 ... [-n WORKERS] [--full]`."""
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
            )
    except KeyboardInterrupt as stop:
        return 128 + getattr(stop, "signum", signal.SIGINT)
    return 1 if failed else 0


def cli_runs(args) -> int:
    """`course runs [LESSON] [--csv]`: a table of past runs, or every parameter and metric as CSV."""
    root = course_root()
    lesson = lesson_stem(root, args.lesson) if args.lesson else None
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


def _runs_csv(found: list[Run]) -> str:
    """One row per run: where and how it ran, every parameter it ran with, its latest metrics."""
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


def _listing_row(record: Run) -> dict:
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
