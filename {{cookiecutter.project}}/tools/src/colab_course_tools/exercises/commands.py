"""`course assign` and `course grade`: student versions of the lessons with exercises, and grading."""

from __future__ import annotations

from pathlib import Path

from ..options import CELL_TIMEOUT, FULL, PARAM, QUIET, TIMEOUT, WORKERS, Command, argument


def assign_lessons(args) -> int:
    from ..config import course_root
    from ..formatting import plural, shown
    from . import require_otter
    from .assign import assign, exercise_lessons, student_lesson

    root = course_root()
    require_otter("course assign")
    lessons = exercise_lessons(root)
    if not lessons:
        print("course assign: no lesson has an exercise (otter's `# BEGIN QUESTION` raw cell); nothing to write")
        return 0
    for lesson in lessons:
        questions = assign(root, lesson)
        print(
            f"{shown(student_lesson(root, lesson.stem))}: {plural(len(questions), 'question')} ({', '.join(questions)})"
        )
    print("public tests in student/tests/, every test (hidden ones included) in build/grading/")
    print("then `course sync` points the README's badges at the student versions, where they are new")
    return 0


def grade_submissions(args) -> int:
    from ..config import course_root, package_source
    from ..errors import CourseError
    from ..formatting import plural, shown
    from ..harness import limits, processes, sandbox
    from ..harness.runner import run_shown
    from ..harness.shards import recorded_durations
    from ..lessons import resolve_lessons
    from ..overrides import for_lessons
    from ..parameters import of_lesson
    from . import grade, require_otter, untouched
    from .assign import exercise_lessons, grading_tests, student_lesson

    root = course_root()
    require_otter("course grade")
    trusted = args.trust_submissions or args.untouched  # --untouched runs the course's own student versions
    unsealed = None if trusted else sandbox.unavailable()
    if unsealed:
        raise CourseError(
            f"submissions are untrusted code and {unsealed}; or, to run them with your rights, "
            "pass --trust-submissions (the grades then say they were made unsealed)"
        )
    seal = None if trusted else sandbox.Seal(str(root), str(package_source(root)))
    known = {lesson.stem for lesson in exercise_lessons(root)}
    missing = sorted(stem for stem in known if not any(grading_tests(root, stem).glob("*.py")))
    if missing:
        raise CourseError(f"no grading tests for {', '.join(missing)}: run `course assign` first")
    lessons = {path.stem: path for path in resolve_lessons(root, sorted(known))}
    declared = {lessons[stem]: of_lesson(lessons[stem]) for stem in known}
    given = for_lessons(args.param, declared)
    durations = recorded_durations(root)

    def time_limits(stem: str) -> tuple[float | None, float]:
        """A smoke run's limits follow from the lesson's recorded duration; given ones win."""
        if args.full:
            timeout = limits.lesson_limit(smoke=False, given=args.timeout)
            return timeout, limits.cell_limit(given=args.cell_timeout, lesson=timeout)
        timeout, cell = limits.submission_limits(durations.get(stem))
        return args.timeout or timeout, args.cell_timeout or min(cell, args.timeout or cell)

    def parameters(stem: str) -> dict:
        lesson = lessons[stem]
        return given[lesson] if args.full else declared[lesson].run_values(given[lesson], smoke=True)

    if args.untouched == bool(args.submissions):
        raise CourseError("give the returned notebooks to grade, or --untouched (the student versions), not both")
    if args.untouched:
        files = [student_lesson(root, stem) for stem in sorted(known)]
    else:
        files = grade.submissions_in([Path(path) for path in args.submissions])
    build = Path(args.into).resolve() if args.into else root / "build"
    if args.on != "local":
        if args.untouched:
            raise CourseError("--untouched runs the student versions here: leave out --on")
        return _grade_on(root, files, args, build)
    print(f"course grade: {plural(len(files), 'submission')}, on {plural(args.workers, 'worker')}", flush=True)
    rows, stopped = [], None
    with grade.scratch_folder() as scratch_name:
        scratch = Path(scratch_name)
        jobs = {}
        for number, path in enumerate(files, 1):
            graded, job, marker = grade.prepare(
                root, path, number, scratch, known, parameters, seal=seal, tolerant=not args.untouched
            )
            rows.append(graded)
            if job is None:
                print(f"{graded.submission}: not graded: {graded.reason}", flush=True)
            else:
                job.timeout, job.cell_timeout = time_limits(graded.lesson)
                jobs[job.notebook.stem] = (graded, job, marker)

        def expected(graded) -> list[str]:
            return [path.stem for path in sorted(grading_tests(root, graded.lesson).glob("*.py"))]

        def finished(result) -> str:
            graded, job, marker = jobs[result.lesson]
            grade.read_grades(graded, result, job.output, marker, expected(graded))
            return grade.status_line(graded)

        try:
            run_shown(
                [job for _, job, _ in jobs.values()],
                workers=args.workers,
                warm_starts=False,  # a submission never forks from the course's processes
                quiet=args.quiet,
                on_result=finished,
            )
        except processes.Interrupted as interrupt:
            stopped = interrupt.signum
            for result in interrupt.results:
                graded = jobs[result.lesson][0]
                if not graded.questions:
                    grade.not_graded(graded, result.error, expected(graded))
    if stopped is not None:
        print(f"course grade: stopped by {processes.signal_name(stopped)}; the submissions it stopped are not graded")
    if args.untouched:
        if stopped is None:
            problems = untouched.record(root, rows)
            for problem in problems:
                print(problem)
            if not problems:
                print("every exercise fails on its untouched student version, which runs to its end")
            return 1 if problems else 0
        return 128 + stopped
    csv_path = grade.write_outputs(build, rows)
    print(f"grades: {shown(csv_path)}; feedback for each submission in {shown(root / 'build' / 'feedback')}/")
    return 128 + stopped if stopped is not None else 0


def _grade_on(root: Path, files: list[Path], args, build: Path) -> int:
    """`course grade --on ENGINE`: each submission a `course grade` of its own on the engine's workers."""
    import shutil

    from ..experiments.commands import slurm_settings
    from ..experiments.engines import engine_for
    from ..formatting import plural, shown, write_csv
    from ..harness import processes
    from .grade import COLUMNS
    from .spread import grade_on_engine

    passed_on = ["-q", *(["--full"] if args.full else []), *(["--trust-submissions"] if args.trust_submissions else [])]
    passed_on += [word for name, value in args.param for word in ("-p", name, value)]
    for flag, value in (("--timeout", args.timeout), ("--cell-timeout", args.cell_timeout)):
        passed_on += [flag, str(value)] if value is not None else []
    engine = engine_for(args.on, folder=build / "grading-jobs", workers=args.workers, slurm=slurm_settings(root, args))
    print(f"course grade: {plural(len(files), 'submission')}, on {engine.name}", flush=True)
    try:
        with processes.stop_on_signals():
            rows = grade_on_engine(root, files, engine, passed_on)
    except KeyboardInterrupt as stop:
        print(f"course grade: stopped by {processes.signal_name(processes.signum_of(stop))}; nothing written")
        return 128 + processes.signum_of(stop)
    finally:
        engine.close()
        shutil.rmtree(build / "grading-jobs", ignore_errors=True)  # submitit's logs of the workers' own commands
    csv_path = build / "grades.csv"
    write_csv(csv_path, COLUMNS, rows)
    print(f"grades: {shown(csv_path)}; feedback for each submission in {shown(build / 'feedback')}/")
    return 0


COMMANDS = [
    Command(
        "assign",
        help="write the student version of each lesson with exercises (no solutions, public tests only)",
        description="For each lesson with otter-grader's exercise markers: student/lessons/<lesson>.ipynb "
        "(solutions replaced by ..., check cells), its public tests in student/tests/<lesson>/, and every test, "
        "hidden ones included, in build/grading/<lesson>/ for `course grade`. Needs: pip install -e '.[exercises]'.",
        handler=assign_lessons,
    ),
    Command(
        "grade",
        help="grade returned notebooks with every test, hidden ones included: build/grades.csv",
        description="Each submission runs as untrusted code through the harness, its kernel sealed by bubblewrap "
        "(no network, no file or variable of yours, a size-capped folder of its own), under time limits that follow "
        "from the lesson's recorded duration; the hidden tests enter only after its cells ran. build/grades.csv gets "
        "a row per question (or one row saying why a file was not graded; `flagged` when it replaced what grades "
        "it), build/feedback/ one file per submission. Smoke parameters unless --full.",
        handler=grade_submissions,
        arguments=(
            argument("submissions", nargs="*", metavar="SUBMISSION", help="returned notebooks, or folders of them"),
            argument(
                "--untouched",
                action="store_true",
                help="grade the student versions as they are: each must run to its end and score 0 "
                "(an exercise that passes on `...` asserts nothing); `course check` then names any that did",
            ),
            argument(
                "--on",
                default="local",
                metavar="ENGINE",
                help="where submissions are graded: local (default), dask, dask://HOST:PORT, slurm or submitit-local, "
                "each sealed on its worker as here (bubblewrap there, and the course at the same path)",
            ),
            argument(
                "--into", default=None, metavar="FOLDER", help="write grades.csv and feedback/ here, not in build/"
            ),
            argument(
                "--trust-submissions",
                action="store_true",
                help="where no sandbox can run: run each submission's code unsealed, with your rights "
                "(grades.csv and the feedback say so)",
            ),
            PARAM,
            FULL,
            TIMEOUT,
            CELL_TIMEOUT,
            WORKERS,
            QUIET,
        ),
    ),
]
