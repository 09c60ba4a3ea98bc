"""One experiment run: claim its folder, record parameters and environment, execute the lesson, report."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

from ..atomic import write_json
from ..errors import CourseError
from ..formatting import cell, shown
from ..lessons import resolve_lessons
from ..locks import path_lock
from ..metric_bands import read_bands
from ..metrics_file import FILE_NAME as METRICS_FILE
from ..metrics_file import headline
from ..overrides import as_text
from ..parameters import Parameters, of_lesson
from .store import (
    CHECKPOINTS_DIR,
    ENVIRONMENT_FILE,
    PARAMS_FILE,
    Run,
    check_run_id,
    current_process,
    environment_snapshot,
    load_run,
    runs_dir,
    timestamp_id,
)


def execute_run(
    root: Path,
    notebook: Path,
    parameters: Parameters,
    overrides: dict,
    *,
    full: bool,
    run_id: str | None,
    cell_timeout: float | None,
    force: bool = False,
    quiet: bool = False,
    cold: bool = False,
    check_bands: bool = True,
) -> Run | None:
    """Run ``notebook`` with ``overrides`` into its run folder (a new one, or ``run_id``'s to resume it).

    A run that passed is done: it is not run again (None is returned) unless ``force`` starts it afresh.
    While it runs, its progress is shown (``harness.progress``) unless ``quiet``. Its final metrics are
    checked against the course's band (``band_check``) unless ``check_bands`` is false.
    """
    bands = read_bands(root) if check_bands else {}  # a broken band file stops the run before it starts
    given = {"smoke": not full, **overrides} if "smoke" in parameters.defaults else dict(overrides)
    lesson_runs = runs_dir(root) / notebook.stem
    run_id = run_id or timestamp_id(lambda candidate: (lesson_runs / candidate).exists())
    directory = lesson_runs / check_run_id(run_id)
    with _executing(directory):
        record = _claim(directory, notebook.stem, given, parameters.defaults, force=force)
        if record is None:
            return None
        values = parameters.run_values(overrides, smoke=not full)
        return _execute(
            root,
            notebook,
            parameters.defaults,
            given,
            values,
            record,
            full=full,
            cell_timeout=cell_timeout,
            quiet=quiet,
            cold=cold,
            bands={"bands": bands, "given": set(overrides), "enabled": check_bands},
        )


def _execute(
    root: Path,
    notebook: Path,
    defaults: dict,
    given: dict,
    values: dict,
    record: Run,
    *,
    full: bool,
    cell_timeout: float | None,
    quiet: bool,
    cold: bool,
    bands: dict,
) -> Run:
    from ..band_check import apply as apply_band
    from ..harness.cache import environment_key
    from ..harness.limits import cell_limit
    from ..harness.progress import ProgressDisplay, describe
    from ..harness.runner import execute_lesson

    directory = record.directory
    write_json(directory / PARAMS_FILE, {**defaults, **values})
    environment = environment_snapshot(root)
    write_json(directory / ENVIRONMENT_FILE, environment)
    attempt = record.info.get("attempts", 0) + 1
    record.save(
        status="running",
        attempts=attempt,
        started=_now(),
        finished=None,
        seconds=None,
        error=None,
        failed_cell=None,
        process=current_process(),
    )
    resumed = f" (attempt {attempt}, resuming)" if attempt > 1 else ""
    print(f"course run: {notebook.stem} run {record.run_id}{resumed} -> {shown(directory)}")
    print(f"  if interrupted, resume with: {_command(notebook.stem, given, defaults, record.run_id)}", flush=True)
    kernel_env = {
        "COURSE_ROOT": str(root),
        "COURSE_RUN_DIR": str(directory),
        "COURSE_LESSON": notebook.stem,
        "COURSE_CHECKPOINTS": str(directory / CHECKPOINTS_DIR),
    }
    display = ProgressDisplay(quiet=quiet)
    try:
        result = execute_lesson(
            notebook,
            directory / notebook.name,
            values,
            env=kernel_env,
            cell_timeout=cell_limit(given=cell_timeout, full_run=full),
            on_progress=lambda lesson, snapshot: display.update(lesson, describe(snapshot)),
            warm_starts=not cold,
        )
    except KeyboardInterrupt:  # execute_lesson has already stopped the lesson's worker and kernel
        record.save(status="interrupted", finished=_now(), process=None)
        raise
    except Exception as error:
        record.save(status="failed", finished=_now(), error=str(error), process=None)
        raise
    finally:
        display.close()
    environment.update(device=result.device, gpu_name=result.gpu_name, peak_gpu_memory_mb=result.peak_gpu_memory_mb)
    name, _, _ = headline(record.metrics)
    apply_band(
        result,
        record.metrics.get("latest") or {},
        name,
        **bands,
        mode="full" if full else "smoke",
        parameters={**defaults, **values},
        environment=environment_key(gpu=False),
        build=root / "build",
    )
    write_json(directory / ENVIRONMENT_FILE, environment)
    record.save(
        status=result.status,
        finished=_now(),
        seconds=round(result.seconds, 2),
        error=result.error,
        failed_cell=result.failed_cell,
        process=None,
    )
    _report(record, result)
    return record


@contextlib.contextmanager
def _executing(directory: Path):
    """Hold this run for one process at a time: a second execution into the same folder and checkpoints is refused."""
    from filelock import Timeout

    lock = path_lock("run", directory)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise CourseError(
            f"run {directory.name} of {directory.parent.name} is being executed by another `course run` on this "
            "machine right now: wait for it to finish, or stop it, then run this command again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _claim(directory: Path, lesson: str, given: dict, defaults: dict, *, force: bool) -> Run | None:
    """The run folder to use: a new one, or an earlier run with this id to resume; None for a run
    that passed already (unless ``force``, which empties its folder). Checks before creating."""
    run_id = directory.name
    earlier = load_run(directory)
    if earlier is not None and earlier.status == "passed" and earlier.info.get("overrides") == given:
        if not force:
            _report_done(earlier, _command(lesson, given, defaults, run_id))
            return None
        print(f"course run: {lesson} run {run_id} passed before; --force: its results and checkpoints are replaced")
        shutil.rmtree(directory)
        earlier = None
    if earlier is None:
        if directory.exists() and any(directory.iterdir()):
            raise CourseError(f"{shown(directory)} exists but holds no run.json: choose another --run-id")
        directory.mkdir(parents=True, exist_ok=True)
        return Run(directory, {"lesson": lesson, "run_id": run_id, "overrides": given, "attempts": 0})
    if earlier.status == "running":
        process = earlier.info.get("process") or {}
        raise CourseError(
            f"run {run_id} is still running (pid {process.get('pid')}): wait for it to finish, "
            "or stop it and run this command again"
        )
    if earlier.info.get("overrides") != given:
        then = earlier.info.get("overrides", {})
        differences = "; ".join(
            f"{name}: {_shown_value(then, name)} then, {_shown_value(given, name)} now"
            for name in dict.fromkeys([*then, *given])
            if then.get(name, _UNSET) != given.get(name, _UNSET)
        )
        again = "resume it" if earlier.status != "passed" else "see it again"
        raise CourseError(
            f"run {run_id} was started with other parameters ({differences}): "
            f"{again} with {_command(lesson, then, defaults, run_id)}, or leave out --run-id for a new run"
        )
    return earlier


_UNSET = object()


def _shown_value(values: dict, name: str) -> str:
    if name == "smoke" and name in values:
        return "smoke" if values[name] else "--full"
    return repr(values[name]) if name in values else "the default"


def _report_done(record: Run, command: str) -> None:
    """A passed run asked for again: where its results are, and how to run it afresh."""
    finished = (record.info.get("finished") or "")[:19].replace("T", " ")
    print(f"course run: {record.lesson} run {record.run_id} passed already ({finished}); nothing to do")
    for label, name in (("notebook", f"{record.lesson}.ipynb"), ("parameters", PARAMS_FILE), ("metrics", METRICS_FILE)):
        if (record.directory / name).exists():
            print(f"  {label:<12} {shown(record.directory / name)}")
    print(f"  to run it again from the start: {command} --force")


def _report(record: Run, result) -> None:
    """Say how the run went (the failing cell and traceback if it failed, what changed since its band) and where
    everything went."""
    from ..band_check import failure_lines, summary

    directory = record.directory
    if result.status == "passed":
        where = f" on {result.gpu_name or result.device}" if result.device else ""
        print(f"course run: {record.lesson} passed in {result.seconds:.1f} s{where}")
    else:
        print(f"course run: {result.describe()}")
    for line in failure_lines(result.band)[1:]:
        print(f"  {line}")
    if result.band and result.ok:
        print(f"  band         {summary(result.band)}")
    name, value, _ = headline(record.metrics)
    for label, path, extra in (
        ("notebook", result.executed_notebook, ""),
        ("parameters", directory / PARAMS_FILE, ""),
        ("metrics", directory / METRICS_FILE, f"  ({name} = {cell(value)})" if name else ""),
        ("environment", directory / ENVIRONMENT_FILE, ""),
        ("checkpoints", directory / CHECKPOINTS_DIR, ""),
    ):
        if path and Path(path).exists():
            print(f"  {label:<12} {shown(Path(path))}{extra}")


def lesson_and_parameters(root: Path, name: str) -> tuple[Path, Parameters]:
    """The lesson a name stands for (``1``, ``01_first_model``, a path) and its parameters."""
    [notebook] = resolve_lessons(root, [name])
    return notebook, of_lesson(notebook)


def lesson_stem(root: Path, name: str) -> str:
    """A lesson's stem; also accepts the folder name of runs whose lesson no longer exists."""
    if (runs_dir(root) / name).is_dir():
        return name
    return lesson_and_parameters(root, name)[0].stem


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
