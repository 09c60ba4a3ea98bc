"""Experiments: run a lesson with other parameters, sweep a grid of them, compare past runs.

Each run executes the lesson with papermill (through the harness) into its own folder
``build/runs/<lesson>/<run-id>/`` (layout in ``run_store``). Runs are smoke-sized unless
``full`` is asked for. A run gets ``COURSE_RUN_DIR`` (where ``log_metrics`` writes) and
``COURSE_CHECKPOINTS`` (its own checkpoint folder) in the kernel's environment, so
re-running with the same run id resumes lessons that train with
``course.checkpoints.fit_resumable`` from their last finished epoch.

From a terminal: ``course run``, ``course sweep``, ``course runs``. From a notebook (Colab):
``course.experiments.run("01", lr=3e-3)``, ``course.experiments.sweep("01", lr=[1e-3, 3e-3])``,
``course.experiments.runs()`` do the same; results land in the repo's build/ (on Drive in Colab).
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from . import run_table, sweeps
from .config import find_root
from .errors import CourseError
from .atomic import write_json
from .metrics import FILE_NAME as METRICS_FILE, headline
from .overrides import as_text, check_overrides, parse_grid, parse_overrides
from .run_store import (
    CHECKPOINTS_DIR, ENVIRONMENT_FILE, PARAMS_FILE, Run, check_run_id, current_process,
    environment_snapshot, list_runs, load_run, runs_dir, timestamp_id,
)

FULL_CELL_TIMEOUT_S = 7 * 24 * 3600.0  # full runs train for hours: only a hung cell should hit this


# ---- Python API (notebook cells) -------------------------------------------------------------

def run(lesson: str, *, full: bool = False, run_id: str | None = None, cell_timeout: float | None = None,
        **parameters) -> Run:
    """Execute ``lesson`` with ``parameters`` overriding its defaults; the same ``run_id`` resumes."""
    root = find_root()
    notebook, defaults = _lesson(root, lesson)
    overrides = check_overrides(notebook.stem, parameters, defaults)
    return _run(root, notebook, defaults, overrides, full=full, run_id=run_id, cell_timeout=cell_timeout)


def sweep(lesson: str, *, workers: int = 1, full: bool = False, cell_timeout: float | None = None,
          **grid) -> Path:
    """Run every combination of ``grid`` (name -> list of values); returns the Markdown table's path."""
    root = find_root()
    notebook, defaults = _lesson(root, lesson)
    for name, values in grid.items():
        if not isinstance(values, list):
            raise CourseError(f"sweep({name}={values!r}): give a list of values to try, e.g. {name}=[1, 2]")
        for value in values:
            check_overrides(notebook.stem, {name: value}, defaults)
    return sweeps.sweep(root, notebook.stem, grid, workers=workers, full=full, cell_timeout=cell_timeout)[0]


def runs(lesson: str | None = None) -> list[Run]:
    """Past runs, oldest first (of one lesson if given)."""
    root = find_root()
    return list_runs(root, _lesson_stem(root, lesson) if lesson else None)


# ---- command line ----------------------------------------------------------------------------

def cli_run(args) -> int:
    """`course run LESSON [-p NAME VALUE]... [--full] [--run-id ID]`."""
    root = find_root()
    notebook, defaults = _lesson(root, args.lesson)
    overrides = parse_overrides(notebook.stem, args.param, defaults)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops a run as cleanly as Ctrl-C
    record = _run(root, notebook, defaults, overrides, full=args.full, run_id=args.run_id,
                  cell_timeout=args.cell_timeout)
    return 0 if record.status == "passed" else 1


def cli_sweep(args) -> int:
    """`course sweep LESSON -p NAME V1,V2 ... [-n WORKERS] [--full]`."""
    root = find_root()
    notebook, defaults = _lesson(root, args.lesson)
    grid = parse_grid(notebook.stem, args.param, defaults)
    signal.signal(signal.SIGTERM, _interrupt)  # stops the running runs too (they have their own sessions)
    _, failed = sweeps.sweep(root, notebook.stem, grid, workers=args.workers, full=args.full,
                             cell_timeout=args.cell_timeout)
    return 1 if failed else 0


def cli_runs(args) -> int:
    """`course runs [LESSON]`: a table of past runs."""
    root = find_root()
    lesson = _lesson_stem(root, args.lesson) if args.lesson else None
    found = list_runs(root, lesson)
    if not found:
        where = runs_dir(root) / (lesson or "")
        print(f"no runs in {run_table.shown(where)} yet: start one with `course run {args.lesson or 'LESSON'}`")
        return 0
    rows = [_listing_row(record) for record in found]
    print(run_table.markdown(["lesson", "run", "status", "started", "seconds", "parameters", "headline"], rows),
          end="")
    return 0


# ---- one run ---------------------------------------------------------------------------------

def _run(root: Path, notebook: Path, defaults: dict, overrides: dict, *, full: bool, run_id: str | None,
         cell_timeout: float | None) -> Run:
    from .harness import execute_lesson

    given = _normalised({"smoke": not full, **overrides} if "smoke" in defaults else overrides)
    record = _claim(runs_dir(root) / notebook.stem, run_id, notebook.stem, given, defaults)
    directory = record.directory
    write_json(directory / PARAMS_FILE, {**defaults, **given})
    environment = environment_snapshot(root)
    write_json(directory / ENVIRONMENT_FILE, environment)
    attempt = record.info.get("attempts", 0) + 1
    record.save(status="running", attempts=attempt, started=_now(), finished=None, seconds=None,
                error=None, failed_cell=None, process=current_process())
    resumed = f" (attempt {attempt}, resuming)" if attempt > 1 else ""
    print(f"course run: {notebook.stem} run {record.run_id}{resumed} -> {run_table.shown(directory)}")
    print(f"  if interrupted, resume with: {_command(notebook.stem, given, defaults, record.run_id)}", flush=True)
    kernel_env = {
        "COURSE_ROOT": str(root),
        "COURSE_RUN_DIR": str(directory),
        "COURSE_CHECKPOINTS": str(directory / CHECKPOINTS_DIR),
    }
    try:
        result = execute_lesson(notebook, directory / notebook.name, given, env=kernel_env,
                                cell_timeout=cell_timeout or (FULL_CELL_TIMEOUT_S if full else None))
    except KeyboardInterrupt:  # execute_lesson has already stopped the lesson's worker and kernel
        record.save(status="interrupted", finished=_now(), process=None)
        raise
    except Exception as error:
        record.save(status="failed", finished=_now(), error=str(error), process=None)
        raise
    environment.update(device=result.device, gpu_name=result.gpu_name,
                       peak_gpu_memory_mb=result.peak_gpu_memory_mb)
    write_json(directory / ENVIRONMENT_FILE, environment)
    record.save(status=result.status, finished=_now(), seconds=round(result.seconds, 2), error=result.error,
                failed_cell=result.failed_cell, process=None)
    _report(record, result)
    return record


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _claim(lesson_runs: Path, run_id: str | None, lesson: str, given: dict, defaults: dict) -> Run:
    """The run folder to use: a new one, or an earlier run with this id to resume. Checks before creating."""
    if run_id is None:
        run_id = timestamp_id(lambda candidate: (lesson_runs / candidate).exists())
    directory = lesson_runs / check_run_id(run_id)
    earlier = load_run(directory)
    if earlier is None:
        if directory.exists() and any(directory.iterdir()):
            raise CourseError(f"{run_table.shown(directory)} exists but holds no run.json: choose another --run-id")
        directory.mkdir(parents=True, exist_ok=True)
        return Run(directory, {"lesson": lesson, "run_id": run_id, "overrides": given, "attempts": 0})
    if earlier.status == "running":
        process = earlier.info.get("process") or {}
        raise CourseError(
            f"run {run_id} is still running (pid {process.get('pid')}): wait for it to finish, "
            "or stop it and run this command again"
        )
    if earlier.info.get("overrides") != given:
        raise CourseError(
            f"run {run_id} was started with other parameters ({run_table.flags(earlier.info.get('overrides', {}))}): "
            f"resume it with {_command(lesson, earlier.info.get('overrides', {}), defaults, run_id)}, "
            "or leave out --run-id for a new run"
        )
    return earlier


def _report(record: Run, result) -> None:
    """Say how the run went (the failing cell and traceback if it failed) and where everything went."""
    directory = record.directory
    if result.status == "passed":
        where = f" on {result.gpu_name or result.device}" if result.device else ""
        print(f"course run: {record.lesson} passed in {result.seconds:.1f} s{where}")
    else:
        print(f"course run: {result.describe()}")
    name, value, _ = headline(record.metrics)
    for label, path, extra in (
        ("notebook", result.executed_notebook, ""),
        ("parameters", directory / PARAMS_FILE, ""),
        ("metrics", directory / METRICS_FILE, f"  ({name} = {run_table.cell(value)})" if name else ""),
        ("environment", directory / ENVIRONMENT_FILE, ""),
        ("checkpoints", directory / CHECKPOINTS_DIR, ""),
    ):
        if path and Path(path).exists():
            print(f"  {label:<12} {run_table.shown(Path(path))}{extra}")


# ---- helpers ---------------------------------------------------------------------------------

def _lesson(root: Path, name: str) -> tuple[Path, dict]:
    from .harness import lesson_parameters, resolve_lessons

    [notebook] = resolve_lessons(root, [name])
    return notebook, lesson_parameters(notebook)


def _lesson_stem(root: Path, name: str) -> str:
    """A lesson's stem; also accepts the folder name of runs whose lesson no longer exists."""
    if (runs_dir(root) / name).is_dir():
        return name
    return _lesson(root, name)[0].stem


def _listing_row(record: Run) -> dict:
    overrides = {key: value for key, value in record.info.get("overrides", {}).items() if key != "smoke"}
    smoke = record.info.get("overrides", {}).get("smoke")
    name, value, _ = headline(record.metrics)
    return {
        "lesson": record.lesson, "run": record.run_id, "status": record.status,
        "started": (record.info.get("started") or "")[:19].replace("T", " "),
        "seconds": record.info.get("seconds"),
        "parameters": ("smoke " if smoke else "full " if smoke is False else "") + run_table.flags(overrides),
        "headline": f"{name}={run_table.cell(value)}" if name else "",
    }


def _normalised(values: dict) -> dict:
    """As stored in JSON (tuples become lists), so a resumed run compares equal to what it saved."""
    return json.loads(json.dumps(values))


def _command(lesson: str, given: dict, defaults: dict, run_id: str) -> str:
    """The `course run` command line that repeats (and so resumes) this run."""
    parts = ["course", "run", lesson]
    for name, value in given.items():
        if name != "smoke":
            parts += ["-p", name, _shell_word(as_text(name, value, defaults.get(name)))]
    if given.get("smoke") is False:
        parts.append("--full")
    return " ".join([*parts, "--run-id", run_id])


def _shell_word(text: str) -> str:
    """``text`` as one shell word, in double quotes where that reads better than shlex's quoting."""
    import shlex

    if shlex.quote(text) == text or any(char in text for char in '"$`\\!'):
        return shlex.quote(text)
    return f'"{text}"'


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
