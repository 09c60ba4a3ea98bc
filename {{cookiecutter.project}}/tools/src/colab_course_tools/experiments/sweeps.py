"""`course sweep`: every combination of some parameter values, one `course run` each, one table.

Each run is a `course run` process with the run id ``sweep-<id>-<k>``, so it is recorded,
listed and resumable like any other run. Results go to ``build/runs/<lesson>/sweep-<id>.md``
and ``.csv`` (rewritten as runs finish), the best run marked by the lesson's headline metric.
A failed run is reported and the others go on. Interrupting the sweep (Ctrl-C, or the stop
button in a notebook) interrupts the running runs and starts no new ones. The runs may run on
another engine (``engines``: Dask, Slurm); they are the same `course run`s there.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from pathlib import Path

from ..atomic import write_text
from ..errors import CourseError
from ..formatting import markdown_table, plural, shown, write_csv
from ..harness.limits import RUN_STOP_GRACE_S
from ..harness.processes import child_env
from ..harness.progress import LOG_PREFIX, ProgressDisplay
from ..metrics_file import headline
from ..overrides import as_flags
from .engines import Engine, engine_for, run_course_child
from .store import load_run, runs_dir, timestamp_id

_PACKAGE = __package__.rpartition(".")[0]
RUN_PROGRESS_S = 1  # how often each run reports its progress to the sweep


def sweep(
    root: Path,
    lesson: str,
    grid: dict[str, list],
    *,
    workers: int | None,
    full: bool,
    cell_timeout: float | None,
    quiet: bool = False,
    cold: bool = False,
    on: str = "local",
    slurm: dict | None = None,
) -> tuple[Path, int]:
    """Run the grid on the engine ``on`` (``engines``); returns the Markdown table's path and how many runs
    did not pass. The runs' progress is shown while they run, unless ``quiet``."""
    if not grid:
        raise CourseError(f"a sweep needs values to try: course sweep {lesson} -p NAME V1,V2 [-p NAME V1,V2]")
    if workers is not None and workers < 1:
        raise CourseError(f"-n {workers}: give at least 1 worker")
    lesson_runs = runs_dir(root) / lesson
    sweep_id = timestamp_id(lambda candidate: any(lesson_runs.glob(f"sweep-{candidate}*")))
    table = lesson_runs / f"sweep-{sweep_id}.md"
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    entries = [{"run": f"sweep-{sweep_id}-{k}", "overrides": combo} for k, combo in enumerate(combos, 1)]
    engine = engine_for(on, folder=lesson_runs / f"sweep-{sweep_id}-jobs", workers=workers, slurm=slurm or {})
    try:
        return _sweep(root, lesson, grid, entries, table, engine, workers, full, cell_timeout, quiet, cold)
    finally:
        engine.close()
        (table.with_suffix(".stop")).unlink(missing_ok=True)


def _sweep(root, lesson, grid, entries, table, engine, workers, full, cell_timeout, quiet, cold) -> tuple[Path, int]:
    # Here, -n runs at a time; an engine gets every run at once and queues them itself (so Ctrl-C cancels them there).
    in_flight = (workers or 1) if engine.name == "local" else len(entries)
    where = "" if engine.name == "local" else f" on {engine.name}"
    print(
        f"course sweep: {plural(len(entries), 'run')} of {lesson}{where}, {min(in_flight, len(entries))} at a time; "
        f"table: {shown(table)}",
        flush=True,
    )
    display = ProgressDisplay(quiet=quiet)
    runner = _Runner(
        root, lesson, full=full, cell_timeout=cell_timeout, workers=in_flight, display=display, engine=engine, cold=cold
    )
    runner.stop_file = table.with_suffix(".stop")
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        futures = {pool.submit(runner.run, entry): entry for entry in entries}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                entry = futures[future]
                entry.update(future.result())
                error = f" ({entry['error']})" if entry.get("error") else ""
                display.done(entry["run"])
                display.print(
                    f"  [{done}/{len(entries)}] {entry['run']} {as_flags(entry['overrides'])}: {entry['status']}{error}"
                )
                write_sweep_table(table, lesson, list(grid), entries)
        except KeyboardInterrupt:
            display.close()
            pool.shutdown(wait=False, cancel_futures=True)
            runner.stop()
            started = [future for future in futures if not future.cancelled()]
            wait(started, timeout=RUN_STOP_GRACE_S)
            for future in started:
                if future.done() and "status" not in futures[future]:
                    futures[future].update(future.result())
            write_sweep_table(table, lesson, list(grid), entries)
            print(f"course sweep: interrupted; what finished is in {shown(table)}", flush=True)
            raise
    failed = [entry for entry in entries if entry["status"] != "passed"]
    print(
        f"course sweep: {len(entries) - len(failed)} passed, {len(failed)} failed; "
        f"results in {shown(table)} and {shown(table.with_suffix('.csv'))}"
    )
    return table, len(failed)


class _Runner:
    """Starts sweep runs as `course run` processes, and stops the running ones when asked."""

    def __init__(
        self,
        root: Path,
        lesson: str,
        *,
        full: bool,
        cell_timeout: float | None,
        workers: int,
        display: ProgressDisplay,
        engine: Engine,
        cold: bool = False,
    ):
        self.root, self.lesson, self.full, self.cell_timeout, self.cold = root, lesson, full, cell_timeout, cold
        self.display, self.engine = display, engine
        self.stop_file: Path | None = None
        self.handles: set = set()
        # COURSE_DIE_WITH_PARENT: each run stops when this sweep dies, even when it is killed outright.
        # COURSE_PROGRESS_S: each run writes where it is every second; the sweep shows it.
        self.env = child_env(
            workers=workers,
            COURSE_ROOT=str(root),
            COURSE_DIE_WITH_PARENT="1",
            COURSE_PROGRESS_S=str(RUN_PROGRESS_S),
        )
        self.stopping = False
        self.lock = threading.Lock()

    def run(self, entry: dict) -> dict:
        """One run; its own process group, so an interrupt reaches it (and its lesson worker) from here."""
        command = [sys.executable, "-m", _PACKAGE, "run", self.lesson, "--run-id", entry["run"]]
        command += ["--values-json", json.dumps(entry["overrides"])]  # read back exactly
        if self.full:
            command.append("--full")
        if self.cell_timeout:
            command += ["--cell-timeout", str(self.cell_timeout)]
        if self.cold:
            command.append("--cold")
        if self.engine.name != "local":
            return self._run_on_engine(entry, command)
        if self.stopping:
            return {"status": "cancelled"}

        def progress(line: str) -> bool:
            if line.startswith(LOG_PREFIX):
                self.display.update(entry["run"], line.rstrip("\n").split(": ", 1)[-1])
                return True
            return False

        status, output = run_course_child(command, self.root, self.env, stop=lambda: self.stopping, on_line=progress)
        return self._outcome(entry, output, f"exit code {status}")

    def _run_on_engine(self, entry: dict, command: list[str]) -> dict:
        """The run as a trial of a Dask or Slurm engine; an engine's failure (a dead worker, a cancelled or
        failed job) fails this run only."""
        with self.lock:
            if self.stopping:
                return {"status": "cancelled"}
            handle = self.engine.submit(command, str(self.root), self.env, str(self.stop_file))
            self.handles.add(handle)
        try:
            _, output = handle.result()
            why = "no run record"
        except Exception as failure:  # each engine has its own: KilledWorker, UncompletedJobError, ...
            output, why = "", f"{self.engine.name}: {type(failure).__name__}: {str(failure).strip()[:300]}"
        finally:
            with self.lock:
                self.handles.discard(handle)
        if self.stopping:  # cancelled on the engine: a started run is still stopping, from the stop file
            run_dir = runs_dir(self.root) / self.lesson / entry["run"]
            deadline = time.monotonic() + RUN_STOP_GRACE_S
            while (record := load_run(run_dir)) is not None and record.status == "running":
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            if record is None:
                return {"status": "cancelled"}
        kept = [line for line in output.splitlines(keepends=True) if not line.startswith(LOG_PREFIX)]
        return self._outcome(entry, "".join(kept), why)

    def _outcome(self, entry: dict, output: str, why: str) -> dict:
        record = load_run(runs_dir(self.root) / self.lesson / entry["run"])
        if record is None:
            lines = output.strip().splitlines()
            return {"status": "failed", "error": lines[-1] if lines else why}
        (record.directory / "course-run.log").write_text(output, encoding="utf-8")
        return {
            "status": record.status,
            "error": record.info.get("error"),
            "seconds": record.info.get("seconds"),
            "metrics": record.metrics,
        }

    def stop(self) -> None:
        """Interrupt the running runs like Ctrl-C would (they record "interrupted"; ``run_course_child`` kills one
        that hangs); trials on an engine stop when they see the stop file, queued ones are cancelled."""
        with self.lock:
            self.stopping = True
            handles = list(self.handles)
        if handles:
            self.stop_file.write_text("stop\n", encoding="utf-8")
            self.engine.cancel(handles)


def write_sweep_table(table: Path, lesson: str, names: list[str], entries: list[dict]) -> None:
    """Write the Markdown and CSV tables of the runs finished so far, the best one marked."""
    finished = [entry for entry in entries if "status" in entry]
    records = [entry.get("metrics") or {} for entry in finished]
    name, _, lower = next((headline(record) for record in records if headline(record)[0]), (None, None, False))
    scalars = [
        key
        for record in records
        for key, value in record.get("latest", {}).items()
        if not isinstance(value, (list, dict))
    ]
    metric_names = list(dict.fromkeys(([name] if name else []) + scalars))
    rows = [
        {
            "run": entry["run"],
            **entry["overrides"],
            **record.get("latest", {}),
            "seconds": entry.get("seconds"),
            "status": entry["status"],
            "error": entry.get("error"),
        }
        for entry, record in zip(finished, records)
    ]
    if name:
        best = best_row([row["status"] == "passed" and row.get(name) for row in rows], lower)
        if best is not None:
            rows[best]["best"] = "best"
    columns = ["run", *names, *metric_names, "seconds", "status", "best"]
    if any(row["error"] for row in rows):
        columns.append("error")
    ranking = f"best = {'lower' if lower else 'higher'} {name}" if name else "no metrics logged, so no best run"
    heading = f"# Sweep {table.stem} of {lesson}\n\n{len(finished)} of {len(entries)} runs finished; {ranking}.\n\n"
    write_csv(table.with_suffix(".csv"), columns, rows)
    write_text(table, heading + markdown_table(columns, rows))


def best_row(values: list, lower_is_better: bool) -> int | None:
    """Index of the best finite number in ``values`` (None where there is none)."""
    numbers = [
        (value, index)
        for index, value in enumerate(values)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ]
    if not numbers:
        return None
    return (min(numbers) if lower_is_better else max(numbers, key=lambda pair: (pair[0], -pair[1])))[1]
