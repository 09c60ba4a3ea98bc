"""`course test`: choose lessons, skip the unchanged ones, run the rest, print and write the report.

Ctrl-C, SIGTERM and SIGHUP stop the run in order: running lessons are interrupted, queued ones
never start, every process is gone, and the report is written with those lessons marked
"interrupted"; the exit status is 128 + the signal's number. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..errors import CourseError
from ..options import CELL_TIMEOUT, COLD, NO_BANDS, PARAM, QUIET, TIMEOUT, WORKERS, Command, argument, minutes
from . import limits


def test_lessons(args) -> int:
    """Run the chosen lessons (cached when unchanged), print and write the report."""
    from ..band_check import apply as apply_band
    from ..config import course_root, load_config
    from ..formatting import plural, shown
    from ..lessons import resolve_lessons
    from ..metric_bands import read_bands
    from ..metrics_file import headline, read_metrics
    from ..overrides import for_lessons
    from ..parameters import of_lesson
    from . import cache as lesson_cache
    from . import processes, report, shards
    from .job import LessonJob, LessonResult
    from .runner import run_shown

    root = course_root()
    budget_gb = load_config(root).memory_budget_gb
    build = root / "build"
    report_dir = Path(args.report).resolve() if args.report else build
    if args.workers < 1:
        raise CourseError(f"-n {args.workers}: the number of workers must be at least 1")
    if args.gpu:
        _require_cuda()
    if args.plan is not None:
        print(shards.plan(root, resolve_lessons(root, args.lessons), args.plan))
        return 0
    lessons = shards.select_shard(root, resolve_lessons(root, args.lessons), args.shard)
    if not lessons:
        where = f"shard {args.shard} holds none of them" if args.shard else f"{shown(root / 'lessons')} holds none"
        raise CourseError(f'no lessons to run: {where}; add one with `course new "Title"`')
    bands = {} if args.no_bands else read_bands(root)  # a broken band file stops the run before it starts
    timeout = limits.lesson_limit(smoke=args.smoke, given=args.timeout)
    cell_timeout = limits.cell_limit(given=args.cell_timeout, lesson=timeout, smoke=args.smoke)

    declared, results = {}, {}
    for lesson in lessons:
        try:
            declared[lesson] = of_lesson(lesson)
        except CourseError as unreadable:  # this lesson fails; the others still run
            results[lesson.stem] = report.stamped(LessonResult(lesson.stem, "failed", error=str(unreadable)))
    given_values = for_lessons(args.param, declared)
    environment = lesson_cache.environment_key(gpu=args.gpu)
    timeouts = {"timeout": timeout, "cell_timeout": cell_timeout}
    cache = lesson_cache.LessonCache(build / "cache" / "lessons")
    checking = {
        "bands": bands,
        "mode": "smoke" if args.smoke else "full",
        "environment": environment,
        "build": build,
        "enabled": not args.no_bands,
    }
    jobs, keys, band_context = [], {}, {}
    for lesson, declared_parameters in declared.items():
        given = given_values[lesson]
        parameters = declared_parameters.run_values(given, smoke=True) if args.smoke else given
        band_context[lesson.stem] = {
            **checking,
            "parameters": {**declared_parameters.defaults, **parameters},
            "given": set(given),
        }
        key = lesson_cache.fingerprint(lesson, root / "src", parameters, environment, timeouts)
        keys[lesson.stem] = key
        stored = None if args.force else cache.lookup(lesson.stem, key)
        if stored is not None:
            cached = LessonResult.from_json({**stored, "status": "cached"})
            results[lesson.stem] = apply_band(cached, cached.metrics, cached.headline, **band_context[lesson.stem])
            continue
        output = build / "executed" / lesson.name
        metrics_dir = metrics_folder(build, lesson.stem)
        shutil.rmtree(metrics_dir, ignore_errors=True)  # what an earlier run logged must not count for this one
        env = {"COURSE_RUN_DIR": str(metrics_dir), "COURSE_LESSON": lesson.stem}
        jobs.append(LessonJob(lesson, output, parameters, timeout=timeout, cell_timeout=cell_timeout, env=env))

    workers = min(args.workers, max(1, len(jobs)))
    print(
        f"course test: {plural(len(lessons), 'lesson')}, {len(jobs)} to run on {plural(workers, 'worker')}"
        f"{' (smoke)' if args.smoke else ''}",
        flush=True,
    )
    for result in results.values():
        print(report.status_line(result), flush=True)

    def finished(result: LessonResult) -> str:
        if args.gpu:
            check_gpu_use(result)
        check_memory(result, budget_gb)
        record = read_metrics(metrics_folder(build, result.lesson))
        apply_band(result, record.get("latest") or {}, headline(record)[0], **band_context[result.lesson])
        if result.status == "passed":
            cache.store(result.lesson, keys[result.lesson], result.to_json())
        else:
            cache.forget(result.lesson)
        results[result.lesson] = report.stamped(result)
        return report.status_line(result)

    stopped = None
    try:
        run_shown(jobs, workers=args.workers, warm_starts=not args.cold, quiet=args.quiet, on_result=finished)
    except processes.Interrupted as interrupt:
        stopped = interrupt.signum
        for result in interrupt.results:
            if result.lesson not in results:
                results[result.lesson] = report.stamped(result)
                print(report.status_line(result), flush=True)
    ordered = [results[lesson.stem] for lesson in lessons]
    earlier = report.earlier_results(report_dir / "report.json")
    every = [p.stem for p in resolve_lessons(root, [])] + [p.stem for p in lessons]
    rows = [results.get(stem) or earlier[stem] for stem in dict.fromkeys(every) if stem in results or stem in earlier]
    options = {
        "lessons": [p.stem for p in lessons],
        "smoke": args.smoke,
        "gpu": args.gpu,
        "workers": args.workers,
        "shard": args.shard,
        "timeout": timeout,
        "cell_timeout": cell_timeout,
        "force": args.force,
        "parameters": dict(args.param),
    }
    json_path, md_path = report.write_reports(
        report_dir, rows, options=options, environment=environment, earlier={r.lesson for r in rows} - set(results)
    )
    print()
    print(report.summary_table(ordered))
    print(f"report: {shown(md_path)}, {shown(json_path)}")
    if args.store_durations:
        print(f"durations: {shown(shards.store_durations(root, results.values()))} (commit it: shards split by it)")
    if stopped is not None:
        print(
            f"course test: stopped by {processes.signal_name(stopped)}; the lessons it stopped are marked interrupted"
        )
        return 128 + stopped
    return 0 if all(r.ok for r in ordered) else 1


def metrics_folder(build: Path, lesson: str) -> Path:
    """Where a lesson run by `course test` logs its metrics (its ``COURSE_RUN_DIR``)."""
    return build / "lesson-metrics" / lesson


def check_gpu_use(result):
    """Fail a passed lesson that did not run on CUDA (``--gpu``): a silent CPU fallback is a bug there."""
    if result.status == "passed" and result.device != "cuda":
        result.status = "failed"
        result.error = (
            f"ran on {result.device or 'an unknown device'}, not on CUDA (--gpu): "
            "make the lesson put its model and data on the GPU (device='auto' or 'cuda')"
        )
    return result


def check_memory(result, budget_gb: float):
    """Warn (not fail) when a lesson's peak RAM is over the course's budget: it would not fit a Colab runtime."""
    from ..config import COLAB_RAM_GB

    if result.peak_ram_mb is not None and result.peak_ram_mb * 2**20 > budget_gb * 1e9:
        result.warnings.append(
            f"peak RAM {result.peak_ram_mb * 2**20 / 1e9:.1f} GB is over the {budget_gb:g} GB budget "
            f"(memory_budget_gb in [tool.course]; a standard Colab runtime has about {COLAB_RAM_GB:g} GB)"
        )
    return result


def _require_cuda() -> None:
    """Fail before anything runs when --gpu is asked for on a machine without a usable CUDA GPU."""
    try:
        import torch
    except ImportError:
        raise CourseError("--gpu: torch is not installed: install the course (pip install -e .) first") from None
    if not torch.cuda.is_available():
        raise CourseError(
            f"--gpu: CUDA is not available (torch {torch.__version__}, CUDA build "
            f"{torch.version.cuda or 'none'}): run on a machine with an NVIDIA GPU and a CUDA build of torch, "
            "or drop --gpu"
        )


def merge_shards(args) -> int:
    from ..config import course_root
    from ..formatting import shown
    from .merge import merge_reports
    from .report import summary_table

    root = course_root()
    results, problems = merge_reports(root, [Path(folder) for folder in args.folders])
    print(summary_table(results))
    print(f"report: {shown(root / 'build' / 'report.md')}, {shown(root / 'build' / 'report.json')}")
    for problem in problems:
        print(f"course report merge: {problem}", file=sys.stderr)
    return 1 if problems else 0


def show_environment(args) -> int:
    """`course env`: runtime, device, versions, paths and the course's warm process, as a two-column table."""
    from .. import __version__
    from ..config import course_package, course_root
    from .warm_starts import course_warm_process
    from .warm_starts import describe as warm_process

    print("Looking at this runtime (importing torch to see the device takes a few seconds) ...", file=sys.stderr)
    course = course_package(course_root())
    try:
        rows = course.describe()
    except course.CourseError as error:  # the course's own error type: shown as the tools show theirs
        raise CourseError(str(error)) from None
    rows["tools"] = f"colab-course-tools {__version__}"
    if "build" in rows:
        try:
            running = course_warm_process(Path(rows["course root"]))
            rows["warm process"] = warm_process(running.info if running else None)
        except CourseError as error:
            rows["warm process"] = f"none ({error})"
    width = max(map(len, rows))
    for label, value in rows.items():
        print(f"{label.ljust(width)}  {value}")
    return 0


def warm_course(args) -> int:
    """`course warm`: start the course's warm process, show it, or stop it (``--stop``)."""
    import time

    from ..config import course_root
    from ..lessons import resolve_lessons
    from ..notebooks import NotebookError
    from . import processes
    from .processes import thread_limits
    from .runner import worker_env
    from .warm_starts import (
        SUPPORTED,
        WarmProcess,
        course_warm_process,
        describe,
        lesson_imports,
        outside_stdlib,
        shared_imports,
        socket_path,
    )

    if not SUPPORTED:
        raise CourseError(f"course warm needs Linux (this is {sys.platform}): lessons start cold here")
    root = course_root()
    running = course_warm_process(root)
    if args.stop:
        if running is None:
            print("course warm: none is running for this course")
            return 0
        running.stop()
        while processes.alive(running.info["pid"]):
            time.sleep(0.05)
        print(f"course warm: stopped (pid {running.info['pid']})")
        return 0
    if running is not None:
        print(f"course warm: already running: {describe(running.info)}")
        return 0
    if args.workers < 1:
        raise CourseError(f"-n {args.workers}: the number of workers must be at least 1")
    if args.idle <= 0:
        raise CourseError(f"--idle {args.idle:g}: give a positive number of minutes, e.g. 30")
    folder = root / "lessons"
    socket_path(folder).unlink(missing_ok=True)  # left by one that was killed outright
    readable = []
    for lesson in resolve_lessons(root, []):
        try:
            readable.append(lesson_imports(lesson))
        except NotebookError as error:  # as `course test` does: that lesson is left out, the others are served
            print(f"course warm: skipping {lesson.name}: {error.reason}", flush=True)
    imports = shared_imports(readable)
    costly = outside_stdlib(imports)
    print(f"course warm: importing {', '.join(costly) or 'ipykernel'} once, for every lesson run ...", flush=True)
    shown_at = [10.0]

    def waiting(seconds: float) -> None:
        if seconds >= shown_at[0]:
            print(f"course warm: still importing ({seconds:.0f} s)", flush=True)
            shown_at[0] += 10.0

    warm = WarmProcess.start(
        socket_path(folder),
        folder,
        imports,
        {**worker_env(), **thread_limits(args.workers)},
        idle=args.idle * 60,
        watch=root / "src",
        detached=True,
    )
    try:
        with processes.stop_on_signals():
            info = warm.wait_ready(on_wait=waiting)
    except BaseException:  # Ctrl-C while it imports, or it refused: nothing of it stays
        warm.stop()
        raise
    print(f"course warm: ready in {info['import_seconds']:g} s: {describe(info)}")
    print(
        "course warm: `course test`, `course run` and `course sweep` fork lessons from it; it ends when src/ or "
        "the installed packages change, when you log out, or with `course warm --stop`"
    )
    return 0


COMMANDS = [
    Command(
        "env",
        help="show what lessons will use here: runtime, device, RAM, library versions (a broken torch pair), paths, "
        "the warm process",
        handler=show_environment,
    ),
    Command(
        "test",
        help="execute lessons with papermill and report what ran, where and how fast",
        description="Execute lessons (all by default); unchanged lessons that passed before are not re-run.",
        handler=test_lessons,
        arguments=(
            argument("lessons", nargs="*", metavar="LESSON", help="lesson file or name, e.g. 01 or 01_first_model"),
            argument("--smoke", action="store_true", help="tiny, fast parameters (what CI runs)"),
            argument("--gpu", action="store_true", help="fail lessons that did not run on CUDA"),
            WORKERS,
            argument(
                "--shard",
                default=None,
                metavar="I/N",
                help="run only shard I of N (1-based), for parallel CI jobs; lessons are split by their recorded "
                "durations (lesson-durations.json, else the last report)",
            ),
            argument("--plan", type=int, default=None, metavar="N", help="print the split into N shards; run nothing"),
            argument(
                "--store-durations",
                action="store_true",
                help="write the seconds of the lessons that ran to lesson-durations.json, for --shard",
            ),
            TIMEOUT.but(
                help=f"limit per lesson (default {minutes(limits.SMOKE_LESSON_TIMEOUT_S)} with --smoke, else none)"
            ),
            CELL_TIMEOUT.but(
                help=f"limit per cell (default {minutes(limits.SMOKE_CELL_TIMEOUT_S)} with --smoke, else the lesson "
                f"limit or {minutes(limits.CELL_TIMEOUT_S)})"
            ),
            argument("--report", default=None, metavar="DIR", help="where report.json/report.md go (default build/)"),
            argument("--force", action="store_true", help="re-run lessons even when unchanged"),
            COLD,
            QUIET,
            NO_BANDS,
            PARAM.but(
                help="set a parameter in the lessons that declare it (-p NAME VALUE or -p NAME=VALUE), "
                "e.g. -p data_url http://mirror/archive.tgz"
            ),
        ),
    ),
    Command(
        "report",
        help="work with lesson reports: merge the reports of shard jobs",
        subcommands=(
            Command(
                "merge",
                help="merge shard reports (each DIR: report.json, report.md, executed/) into build/",
                description="Merge the reports of `course test --shard I/N` jobs into build/report.json, report.md "
                "and executed/, as if one job had run every lesson. Exits 1, naming them, when a lesson is in no "
                "shard or in two, a shard never reported, or a shard failed (the merged report is written anyway).",
                handler=merge_shards,
                arguments=(argument("folders", nargs="+", metavar="DIR", help="a shard's report folder"),),
            ),
        ),
    ),
    Command(
        "warm",
        help="keep a warm process that has imported what lessons import, so lessons start in a fraction of a second",
        description="Start a process for this course and this Python that imports what the lessons share (torch, "
        "fastai, ...) once; while it lives, `course test`, `course run` and `course sweep` fork each lesson's "
        "kernel from it instead of importing again (--cold bypasses it). Nothing starts it implicitly. It ends "
        "after --idle minutes without a lesson, when src/ or the installed packages change, when the login session "
        "ends, or with --stop. Run again to see it.",
        handler=warm_course,
        arguments=(
            argument("--stop", action="store_true", help="end the course's warm process"),
            WORKERS.but(
                help="serve runs of N lessons side by side (`course test -n N`, `course sweep -n N`): their "
                "kernels get a share of the cores, which must be set before torch is imported (default 1)"
            ),
            argument(
                "--idle", type=float, default=30.0, metavar="MINUTES", help="end after this long unused (default 30)"
            ),
        ),
    ),
]
