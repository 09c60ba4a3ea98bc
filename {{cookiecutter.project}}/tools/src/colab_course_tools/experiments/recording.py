"""`course bands record`: run each lesson K times with new seeds and write the band of each final metric.

The runs go through the harness like `course test`'s (``-n`` workers, warm starts), each with its own seed and its
own metrics folder under ``build/bands/``; the first run has the lesson's own seed (see ``_seeds``). The band of a lesson is written only when all K runs passed, agree on the
device kind and log the same metrics: a band from fewer runs, or from runs that failed, would hold nothing. Before it
writes, the command shows each new band beside the old one, and how many new runs fall outside the old band, the
honest test of the old band's width (new seeds continue after those the old band used).
"""

from __future__ import annotations

import platform
import shutil
import time
from pathlib import Path

from ..errors import CourseError
from ..formatting import cell, markdown_table, plural, shown
from ..metric_bands import (
    MIN_RUNS,
    Band,
    band_key,
    band_of,
    bandable,
    compared_parameters,
    not_finite,
    read_bands,
    round_value,
    write_bands,
)


def record_bands(args) -> int:
    """Record the bands of the chosen lessons (all by default) in the chosen mode on this machine's device."""
    from ..config import course_root
    from ..harness import processes
    from ..harness.cache import environment_key
    from ..harness.job import LessonJob
    from ..harness.report import status_line
    from ..harness.runner import run_shown
    from ..lessons import resolve_lessons
    from ..metrics_file import headline, read_metrics
    from ..overrides import for_lessons
    from ..parameters import of_lesson

    if args.runs < MIN_RUNS:
        raise CourseError(f"--runs {args.runs}: a band needs at least {MIN_RUNS} runs (5 is a good start)")
    if args.workers < 1:
        raise CourseError(f"-n {args.workers}: the number of workers must be at least 1")
    root = course_root()
    old = read_bands(root)  # a broken file is said before anything runs
    mode = "full" if args.full else "smoke"
    lessons = resolve_lessons(root, args.lessons)
    declared = {lesson: of_lesson(lesson) for lesson in lessons}
    for lesson, parameters in declared.items():
        if "seed" not in parameters.defaults:
            raise CourseError(
                f"{lesson.stem} has no `seed` parameter, so its runs would not differ: add `seed = 42` to its "
                "parameters cell and use it (set_seed(seed)), or leave the lesson out"
            )
    given = for_lessons(args.param, declared)
    if any("seed" in values for values in given.values()):
        raise CourseError("-p seed: the command gives each run its own seed; leave -p seed out")
    folder = root / "build" / "bands"
    jobs, seeds, values = [], {}, {}
    for lesson, parameters in declared.items():
        seeds[lesson.stem] = _seeds(old, lesson.stem, mode, args.runs, parameters.defaults["seed"])
        values[lesson.stem] = {**parameters.defaults, **parameters.run_values(given[lesson], smoke=not args.full)}
        for seed in seeds[lesson.stem]:
            run = folder / f"{lesson.stem}-seed{seed}"
            shutil.rmtree(run, ignore_errors=True)
            jobs.append(
                LessonJob(
                    lesson,
                    run / lesson.name,
                    parameters.run_values({**given[lesson], "seed": seed}, smoke=not args.full),
                    env={"COURSE_RUN_DIR": str(run), "COURSE_LESSON": lesson.stem},
                )
            )
    print(
        f"course bands record: {plural(len(lessons), 'lesson')} x {args.runs} runs ({mode}), "
        f"{plural(min(args.workers, len(jobs)), 'worker')}",
        flush=True,
    )
    started = time.monotonic()

    def finished(result) -> str:
        record = read_metrics(Path(result.executed_notebook).parent)
        result.metrics, result.headline = record.get("latest") or {}, headline(record)[0]
        return status_line(result) + f"  (seed {_seed_of(result)})"

    try:
        results = run_shown(jobs, workers=args.workers, warm_starts=not args.cold, quiet=args.quiet, on_result=finished)
    except processes.Interrupted as interrupt:
        print(f"course bands record: stopped by {processes.signal_name(interrupt.signum)}; nothing written")
        return 128 + interrupt.signum
    seconds = time.monotonic() - started
    environment = environment_key(gpu=False)
    recorded = {
        "date": time.strftime("%Y-%m-%d"),
        "python": environment["python"],
        "packages": environment["packages"],
    }
    new, problems = {}, []
    for lesson in lessons:
        runs = [result for result in results if result.lesson == lesson.stem]
        try:
            band = _band(lesson.stem, runs, mode, seeds[lesson.stem], values[lesson.stem], recorded)
        except CourseError as problem:
            problems.append(str(problem))
            continue
        if band is not None:
            new[lesson.stem, band.key] = band
    print()
    print(comparison(old, new))
    for problem in problems:
        print(f"course bands record: {problem}")
    print(f"course bands record: {plural(len(jobs), 'run')} in {seconds:.0f} s")
    if new:
        path = write_bands(root, {**old, **new})
        print(f"written: {shown(path)} ({plural(len(new), 'band')}); review with git diff, commit it to check CI by it")
    return 1 if problems else 0


def _seeds(old: dict, lesson: str, mode: str, runs: int, default) -> list[int]:
    """The lesson's own seed, then seeds after every seed an earlier band of this lesson and mode used.

    The lesson's own seed is what `course test` and CI run with; on a CPU that run is the same draw every time, so
    it must be one of the band's runs, or an unlucky seed would fail every CI run. The others are new draws, so
    recording again is an honest test of the old band."""
    used = [
        seed
        for (name, key), band in old.items()
        if name == lesson and key.startswith(mode)
        for seed in band.recorded.get("seeds", [])
    ]
    start = max((seed for seed in [*used, default] if isinstance(seed, int)), default=0) + 1
    own = [default] if isinstance(default, int) else []
    return own + list(range(start, start + runs - len(own)))


def _seed_of(result) -> str:
    stem = Path(result.executed_notebook or "").parent.name
    return stem.rpartition("-seed")[2] or "?"


def _band(lesson: str, runs: list, mode: str, seeds: list, values: dict, recorded: dict) -> Band | None:
    """The band of K runs of one lesson; ``CourseError`` saying why there is none (a failed run, NaN, ...)."""
    from ..metrics_file import headline, read_metrics

    failed = [result for result in runs if not result.ok]
    if failed:
        raise CourseError(
            f"{lesson}: {plural(len(failed), 'run')} of {len(runs)} did not pass (first: {failed[0].failure()}): "
            "no band written for it; fix the lesson and record again"
        )
    devices = {result.device for result in runs}
    if len(devices) != 1 or None in devices:
        raise CourseError(f"{lesson}: its runs ran on {', '.join(map(str, devices))}: no band written for it")
    records = [read_metrics(Path(result.executed_notebook).parent) for result in runs]
    finals = [record.get("latest") or {} for record in records]
    for final in finals:
        if not_finite(final):
            raise CourseError(
                f"{lesson}: a run logged {', '.join(not_finite(final))} as NaN or infinite: no band written"
            )
    names = [name for name in bandable(finals[0]) if all(name in bandable(final) for final in finals)]
    finals = [{name: round_value(final[name]) for name in names} for final in finals]
    if not names:
        logged = ", ".join(finals[0]) or "nothing"
        print(
            f"course bands record: {lesson} logs no metric a band can hold (it logged: {logged}; speeds are never banded)"
        )
        return None
    [device] = devices
    gpu = runs[0].gpu_name
    return Band(
        lesson,
        band_key(mode, device),
        headline(records[0])[0],
        {
            name: dict(
                zip(("low", "high"), band_of([final[name] for final in finals])), runs=[final[name] for final in finals]
            )
            for name in names
        },
        compared_parameters(values),
        {"runs": len(runs), "seeds": seeds, "device": gpu or f"cpu ({cpu_name()})", **recorded},
    )


def cpu_name() -> str:
    """The processor's model name where Linux says it, else the machine's architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.machine()


def comparison(old: dict, new: dict) -> str:
    """Old band beside new, per lesson, key and metric, and how many new runs fall outside the old band."""
    rows = []
    for (lesson, key), band in sorted(new.items()):
        before = old.get((lesson, key))
        for name, entry in band.metrics.items():
            limits = before.limits(name) if before else None
            outside = (
                sum(not limits[0] <= value <= limits[1] for value in entry["runs"]) if limits is not None else None
            )
            rows.append(
                {
                    "lesson": lesson,
                    "band": key,
                    "metric": name,
                    "old band": f"{cell(limits[0])} to {cell(limits[1])}" if limits else "none",
                    "new band": f"{cell(entry['low'])} to {cell(entry['high'])}",
                    "new runs": ", ".join(cell(value) for value in entry["runs"]),
                    "outside old": "-" if outside is None else f"{outside} of {len(entry['runs'])}",
                }
            )
    if not rows:
        return "no band recorded"
    columns = ["lesson", "band", "metric", "old band", "new band", "new runs", "outside old"]
    return markdown_table(columns, rows)
