"""Execute lessons with papermill and report what ran, where, and how fast (`course test`, pytest).

Each lesson runs in a worker process of its own (``lesson_worker``) with a fresh kernel
bound to this interpreter, in the lesson's folder. The worker enforces the cell and
lesson timeouts and kills everything the kernel started. While lessons run, the next
queued lesson's worker is already started and its kernel imports what that lesson
imports, so kernel start-up and heavy imports overlap with useful work.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .errors import CourseError
from .lesson_format import PARAMETERS_TAG, cell_source, has_tag, read_notebook

STATUSES = ("passed", "failed", "timed out", "cached")
DEFAULT_CELL_TIMEOUT_S = 1800.0  # a full-size training cell on a slow GPU
SMOKE_CELL_TIMEOUT_S = 300.0
SMOKE_LESSON_TIMEOUT_S = 900.0
_BACKSTOP_S = 300.0  # beyond the lesson timeout: kernel start-up (up to 120 s), interrupt, clean-up


@dataclass
class LessonResult:
    """The outcome of one lesson run; ``failed_cell`` indexes the lesson's cells as written."""

    lesson: str
    status: str
    seconds: float = 0.0
    device: str | None = None  # "cuda" or "cpu" as seen inside the kernel; None if unknown
    gpu_name: str | None = None
    peak_gpu_memory_mb: float | None = None
    failed_cell: int | None = None
    failed_source: str = ""
    error: str = ""
    executed_notebook: Path | None = None
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "cached")

    def to_json(self) -> dict:
        data = asdict(self)
        data["executed_notebook"] = str(self.executed_notebook) if self.executed_notebook else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "LessonResult":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("executed_notebook"):
            values["executed_notebook"] = Path(values["executed_notebook"])
        return cls(**values)

    def describe(self) -> str:
        """A failure as a person wants to read it: where, the cell's code, the error and its traceback."""
        if self.ok:
            return f"{self.lesson}: {self.status} in {self.seconds:.1f} s"
        cell = f" in cell {self.failed_cell}" if self.failed_cell is not None else ""
        parts = [f"{self.lesson} {self.status}{cell}: {self.error}"]
        if self.failed_source:
            parts.append("cell source:\n" + _indent(self.failed_source))
        if self.traceback:
            parts.append("traceback:\n" + _indent(self.traceback))
        if self.executed_notebook:
            parts.append(f"executed notebook: {self.executed_notebook}")
        return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


# -- lessons and their parameters ----------------------------------------------------------
def available_lessons(root: Path) -> list[Path]:
    return sorted(p for p in (root / "lessons").glob("*.ipynb") if not p.name.startswith("."))


def resolve_lessons(root: Path, names) -> list[Path]:
    """Lesson files for names such as ``01``, ``01_first_model`` or ``lessons/01_first_model.ipynb``.

    No names means every lesson. An unknown name raises ``CourseError`` listing the lessons.
    """
    lessons = available_lessons(root)
    if not names:
        return lessons
    chosen: list[Path] = []
    for name in names:
        matches = _matching(lessons, str(name), root)
        if len(matches) != 1:
            available = ", ".join(p.stem for p in lessons) or "none (lessons/ is empty)"
            problem = "is ambiguous" if matches else "is not a lesson"
            raise CourseError(
                f"{name!r} {problem}: give a number, name or file of one of the lessons: {available}"
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _matching(lessons: list[Path], name: str, root: Path) -> list[Path]:
    as_path = Path(name).expanduser()
    for candidate in (as_path, root / as_path, root / "lessons" / as_path):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return [p for p in lessons if p.resolve() == candidate.resolve()]
    stem = as_path.name.removesuffix(".ipynb")
    exact = [p for p in lessons if p.stem == stem]
    return exact or [p for p in lessons if p.stem.split("_", 1)[0] == stem]


def lesson_parameters(notebook: Path) -> dict:
    """Names and default values of the lesson's ``parameters`` cell (literals; other values as source text)."""
    for cell in read_notebook(notebook)["cells"]:
        if cell.get("cell_type") == "code" and has_tag(cell, PARAMETERS_TAG):
            source = cell_source(cell)
            try:
                tree = ast.parse(source)
            except SyntaxError as error:
                raise CourseError(
                    f"{notebook}: the parameters cell is not valid Python ({error.msg}, line {error.lineno}): fix it"
                ) from None
            defaults = {}
            for node in tree.body:
                target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else getattr(node, "target", None)
                if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
                    try:
                        defaults[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        defaults[target.id] = ast.get_source_segment(source, node.value)
            return defaults
    return {}


# -- running lessons -------------------------------------------------------------------------
@dataclass
class LessonJob:
    """Everything a worker needs to run one lesson."""

    notebook: Path
    output: Path
    parameters: dict = field(default_factory=dict)
    timeout: float | None = None
    cell_timeout: float | None = None
    env: dict | None = None


class _LessonProcess:
    """A started lesson worker: its kernel boots and warms up until ``run()`` says go."""

    def __init__(self, job: LessonJob):
        self.job = job
        output = Path(job.output).resolve()
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, result_path = tempfile.mkstemp(prefix=f"{output.stem}-", suffix=".json")
        os.close(fd)
        os.unlink(result_path)
        self.result_path = Path(result_path)
        self.log_path = output.with_suffix(".log")
        cell_timeout = job.cell_timeout or job.timeout or DEFAULT_CELL_TIMEOUT_S
        request = {
            "notebook": str(Path(job.notebook).resolve()),
            "output": str(output),
            "parameters": job.parameters,
            "timeout": job.timeout,
            "cell_timeout": cell_timeout,
            "env": job.env or {},
            "result_path": str(self.result_path),
        }
        package_parent = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet debugger warning at kernel start
        env.setdefault("COURSE_AUTORELOAD", "0")  # nobody edits src/ during a batch run (see bootstrap)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"{__package__}.lesson_worker"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, text=True,
            )
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:  # the worker died at start (its log says why); run() reports it
            pass

    def run(self) -> LessonResult:
        started = time.monotonic()
        try:
            self.process.stdin.write("go\n")
            self.process.stdin.close()
        except OSError:  # the worker already ended (it could not start the kernel): its result says why
            pass
        limit = None if self.job.timeout is None else self.job.timeout + _BACKSTOP_S
        try:
            self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self._kill()
            return self._failure("timed out", f"the lesson worker did not stop within {limit:g} s and was killed", started)
        except BaseException:  # Ctrl-C, `kill PID` or a notebook's stop button: the lesson must not train on
            self._kill()
            raise
        try:
            return LessonResult.from_json(json.loads(self.result_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return self._failure("failed", f"the lesson worker exited with {self.process.returncode} without a result", started)
        finally:
            self.result_path.unlink(missing_ok=True)
            if self.log_path.exists() and not self.log_path.stat().st_size:
                self.log_path.unlink()

    def cancel(self) -> None:
        """Stop a worker that never got to run (its kernel is killed by the worker itself)."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self._kill()

    def _kill(self) -> None:
        import psutil

        from .processes import kill_tree

        try:
            kill_tree(psutil.Process(self.process.pid))
        except psutil.NoSuchProcess:
            pass
        self.process.wait()

    def _failure(self, status: str, message: str, started: float) -> LessonResult:
        log = self.log_path.read_text(errors="replace").strip() if self.log_path.exists() else ""
        return LessonResult(
            lesson=Path(self.job.notebook).stem,
            status=status,
            seconds=round(time.monotonic() - started, 2),
            error=message,
            traceback="\n".join(log.splitlines()[-20:]),
            executed_notebook=Path(self.job.output),
        )


def execute_lesson(
    notebook: Path,
    output: Path,
    parameters: dict,
    *,
    timeout: float | None = None,
    cell_timeout: float | None = None,
    env: dict | None = None,
) -> LessonResult:
    """Run one lesson with papermill in a fresh kernel bound to ``sys.executable``, cwd = its folder.

    ``env`` is added to this process's environment for the kernel. ``cell_timeout``
    defaults to ``timeout`` or 30 minutes. Every process the kernel started is killed.
    """
    job = LessonJob(Path(notebook), Path(output), dict(parameters or {}), timeout, cell_timeout, env)
    return _LessonProcess(job).run()


def run_lessons(jobs: list[LessonJob], *, workers: int = 1, on_result=None) -> list[LessonResult]:
    """Run jobs on ``workers`` parallel workers, one more warming up; results in job order.

    ``on_result(result)`` is called as each lesson finishes (from worker threads, one at a time).
    Parallel lessons share the cores instead of each starting a thread per core.
    """
    threads = thread_limits(workers)
    jobs = [replace(job, env={**threads, **(job.env or {})}) for job in jobs]
    queue = deque(enumerate(jobs))
    warm: deque[tuple[int, _LessonProcess]] = deque()
    results: dict[int, LessonResult] = {}
    lock = threading.Lock()

    def take():
        with lock:
            if warm:
                taken = warm.popleft()
            elif queue:
                index, job = queue.popleft()
                taken = (index, _LessonProcess(job))
            else:
                return None
            if queue and not warm:  # start the next lesson's kernel while this one runs
                index, job = queue.popleft()
                warm.append((index, _LessonProcess(job)))
            return taken

    def work():
        while (taken := take()) is not None:
            index, process = taken
            result = process.run()
            with lock:
                results[index] = result
                if on_result:
                    on_result(result)

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
            for future in [pool.submit(work) for _ in range(max(1, min(workers, len(jobs))))]:
                future.result()
    finally:
        for _, process in warm:
            process.cancel()
    return [results[i] for i in range(len(jobs)) if i in results]


def thread_limits(workers: int) -> dict:
    """Environment giving each of ``workers`` parallel kernels (lessons, sweep runs) its share of the cores.

    Each torch/OpenMP/BLAS runtime starts one thread per core by default; two lessons on two
    cores then run four busy threads that slow each other down. Settings the user made win.
    """
    if workers <= 1:
        return {}
    share = str(max(1, (os.cpu_count() or 1) // workers))
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    return {name: share for name in names if name not in os.environ}


# -- `course test` -----------------------------------------------------------------------------
def cli_test(args) -> int:
    """`course test`: run the chosen lessons (cached when unchanged), print and write the report."""
    from . import lesson_cache, report
    from .run_table import shown
    from .config import find_root
    from .overrides import parse_value

    root = find_root()
    build = root / "build"
    report_dir = Path(args.report).resolve() if args.report else build
    if args.workers < 1:
        raise CourseError(f"-n {args.workers}: the number of workers must be at least 1")
    if args.gpu:
        _require_cuda()
    lessons = select_shard(resolve_lessons(root, args.lessons), args.shard)
    timeout = args.timeout if args.timeout is not None else (SMOKE_LESSON_TIMEOUT_S if args.smoke else None)
    cell_timeout = args.cell_timeout or (min(SMOKE_CELL_TIMEOUT_S, timeout) if args.smoke else timeout)

    overrides = list(getattr(args, "param", None) or [])
    declared = {lesson: lesson_parameters(lesson) for lesson in lessons}
    for name, _ in overrides:
        if not any(name in defaults for defaults in declared.values()):
            raise CourseError(
                f"-p {name}: none of the chosen lessons has a parameter {name!r}; "
                "see the cell tagged 'parameters' in each lesson"
            )
    environment = lesson_cache.environment_key(gpu=args.gpu)
    cache = lesson_cache.LessonCache(build / "cache" / "lessons")
    jobs, keys, results = [], {}, {}
    for lesson, defaults in declared.items():
        parameters = {"smoke": True} if args.smoke and "smoke" in defaults else {}
        parameters.update(
            {name: parse_value(name, text, defaults[name]) for name, text in overrides if name in defaults}
        )
        key = lesson_cache.fingerprint(lesson, root / "src", parameters, environment)
        keys[lesson.stem] = key
        stored = None if args.force else cache.lookup(lesson.stem, key)
        if stored is not None:
            results[lesson.stem] = LessonResult.from_json({**stored, "status": "cached"})
            continue
        output = build / "executed" / lesson.name
        jobs.append(LessonJob(lesson, output, parameters, timeout, cell_timeout))

    print(f"course test: {len(lessons)} lessons, {len(jobs)} to run on {min(args.workers, max(1, len(jobs)))} "
          f"workers{' (smoke)' if args.smoke else ''}", flush=True)
    for result in results.values():
        print(report.status_line(result), flush=True)

    def finished(result: LessonResult) -> None:
        if args.gpu:
            check_gpu_use(result)
        if result.status == "passed":
            cache.store(result.lesson, keys[result.lesson], result.to_json())
        else:
            cache.forget(result.lesson)
        results[result.lesson] = result
        print(report.status_line(result), flush=True)

    run_lessons(jobs, workers=args.workers, on_result=finished)
    ordered = [results[lesson.stem] for lesson in lessons]
    options = {
        "lessons": [p.stem for p in lessons], "smoke": args.smoke, "gpu": args.gpu, "workers": args.workers,
        "shard": args.shard, "timeout": timeout, "cell_timeout": cell_timeout, "force": args.force,
        "parameters": {name: text for name, text in overrides},
    }
    json_path, md_path = report.write_reports(report_dir, ordered, options=options, environment=environment)
    print()
    print(report.summary_table(ordered))
    print(f"report: {shown(md_path)}, {shown(json_path)}")
    return 0 if all(r.ok for r in ordered) else 1


def select_shard(lessons: list[Path], shard: str | None) -> list[Path]:
    """Lessons of shard I of N (1-based; lesson k goes to shard k mod N), for CI jobs in parallel."""
    if not shard:
        return lessons
    try:
        index, count = (int(part) for part in shard.split("/"))
        if not 1 <= index <= count:
            raise ValueError
    except ValueError:
        raise CourseError(f"--shard {shard}: write I/N with 1 <= I <= N, e.g. --shard 1/2") from None
    return lessons[index - 1 :: count]


def check_gpu_use(result: LessonResult) -> LessonResult:
    """Fail a passed lesson that did not run on CUDA (``--gpu``): a silent CPU fallback is a bug there."""
    if result.status == "passed" and result.device != "cuda":
        result.status = "failed"
        result.error = (
            f"ran on {result.device or 'an unknown device'}, not on CUDA (--gpu): "
            "make the lesson put its model and data on the GPU (device='auto' or 'cuda')"
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
