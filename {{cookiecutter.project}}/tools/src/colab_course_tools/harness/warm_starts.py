"""Warm starts for a run of lessons: which warm process serves it, and which lessons it may serve.

A run uses the course's warm process when `course warm` started one for this course and this
Python, else starts one of its own when at least two lessons can use it; it ends with the run.
The warm process imports what the lessons share (``shared_imports``); a lesson forks from it
only when that changes nothing the lesson can see (``cold_reason``): it lives in the warm
process's folder, imports all of those modules itself before anything that could change an
import (``prewarm``'s rule), and runs with the same environment (the warm process checks). Any
other lesson gets a cold kernel, as without warm starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import notebooks
from ..errors import CourseError
from . import processes
from .limits import WARM_ANSWER_TIMEOUT_S, WARM_FORK_TIMEOUT_S, WARM_READY_TIMEOUT_S, WARM_STOP_TIMEOUT_S
from .prewarm import imports_to_prewarm
from .warm import environment_key, receive, send

# Forking a worker safely needs Linux: a parent-death signal, a socket's peer credentials, /proc.
SUPPORTED = sys.platform.startswith("linux")


def lesson_imports(lesson: Path) -> list[str]:
    """What the lesson imports before anything that could change an import (``prewarm``)."""
    return imports_to_prewarm(notebooks.read_notebook(lesson))


def outside_stdlib(names: list[str]) -> list[str]:
    """The modules that cost to import: those from outside the standard library."""
    return [name for name in names if name.partition(".")[0] not in sys.stdlib_module_names]


def shared_imports(lists: list[list[str]]) -> list[str]:
    """What the warm process imports: the imports shared by two or more lessons that save the most.

    Each candidate is what two lessons, or all of them, import before anything that could change an
    import; it scores the lessons that take all of it times the modules it holds from outside the
    standard library (those are what cost); ties go to more modules. A course whose lessons all
    use one framework warms that framework; a lesson that imports less starts cold.
    """
    sets = [frozenset(names) for names in lists if names]
    candidates = {a & b for i, a in enumerate(sets) for b in sets[i + 1 :]}
    if sets:
        candidates.add(frozenset.intersection(*sets))

    def score(shared: frozenset) -> tuple[int, int]:
        costly = len(outside_stdlib(shared))
        return sum(shared <= names for names in sets) * costly, costly

    best = max(candidates, key=score, default=frozenset())
    if score(best)[0] == 0:
        return []
    return list(dict.fromkeys(name for names in lists for name in names if name in best))


def cold_reason(lesson: Path, imports: list[str], info: dict) -> str | None:
    """Why the lesson, which takes ``imports`` early, must not fork from the warm process ``info``, or None."""
    if lesson.parent.resolve() != Path(info["folder"]).resolve():
        return f"it is not in {info['folder']}"
    missing = [name for name in info["imports"] if name not in imports]
    if missing:
        return f"it does not import {', '.join(missing)} before anything that could change an import"
    return None


def socket_path(folder: Path) -> Path:
    """Where the course's warm process listens: one per lessons folder and Python, in a private folder."""
    key = hashlib.sha256(f"{folder.resolve()}\0{sys.executable}\0{sys.prefix}".encode()).hexdigest()[:20]
    return private_folder() / f"{key}.sock"


def private_folder() -> Path:
    """``$XDG_RUNTIME_DIR/course-warm`` (gone at logout), else one in the temporary folder; 0700 and ours."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and Path(runtime).is_dir() else Path(tempfile.gettempdir())
    folder = base / f"course-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    stat = folder.lstat()
    if stat.st_uid != os.getuid() or stat.st_mode & 0o077 or not folder.is_dir() or folder.is_symlink():
        raise CourseError(
            f"{folder} is not a private folder of yours (owner uid {stat.st_uid}, mode {stat.st_mode & 0o777:o}): "
            "remove it; the warm process will not listen where others can reach"
        )
    return folder


class WarmProcess:
    """A warm process, reached over its socket; ``process`` is set when this run started it."""

    def __init__(self, path: Path, process: subprocess.Popen | None = None, log: Path | None = None):
        self.path, self.process, self.log = path, process, log
        self.info: dict | None = None

    @classmethod
    def start(
        cls,
        path: Path,
        folder: Path,
        imports: list[str],
        env: dict,
        *,
        idle: float | None = None,
        watch: Path | None = None,
        detached: bool = False,
    ) -> WarmProcess:
        """Start one; it imports in the background (``wait_ready``). A run's own dies with the run;
        a detached one (`course warm`) lives on its own, and ends with the login session."""
        log = path.with_suffix(".log")
        config = {"socket": str(path), "imports": imports, "idle": idle, "watch": str(watch) if watch else None}
        if detached:
            config["session_leader"] = os.getsid(0)
        else:
            config["own_folder"] = True  # its socket's folder, made by the run for it alone
        with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", f"{__package__}.warm", json.dumps(config)],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=None if detached else processes.die_with_parent_preexec(signal.SIGTERM),
            )
        return cls(path, process, log)

    def wait_ready(self, timeout: float = WARM_READY_TIMEOUT_S, on_wait=None) -> dict:
        """Wait while it imports (calling ``on_wait(seconds)`` now and then); its description, or a
        CourseError saying why it will not serve."""
        if self.info is not None:
            return self.info
        started = time.monotonic()
        deadline = started + timeout
        line = b""
        while not line.endswith(b"\n"):
            if on_wait is not None:
                on_wait(time.monotonic() - started)
            if time.monotonic() > deadline:
                self.stop()
                raise CourseError(f"the warm process did not finish importing within {timeout:g} s")
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        try:
            message = json.loads(line)
        except ValueError:
            self.process.wait()
            tail = self.log.read_text(errors="replace").strip().splitlines()[-3:] if self.log.exists() else []
            raise CourseError(
                f"the warm process exited with {self.process.returncode}: {' / '.join(tail) or 'no output'}"
            ) from None
        if "refused" in message:
            raise CourseError(f"no warm starts: {message['refused']}")
        self.info = message["ready"]
        return self.info

    @classmethod
    def running(cls, path: Path) -> WarmProcess | None:
        """The warm process listening at ``path``, if one answers."""
        try:
            with _connect(path) as connection:
                send(connection, {"op": "status"})
                info = receive(connection, timeout=WARM_ANSWER_TIMEOUT_S)
        except (OSError, ValueError):
            return None
        if not info or "pid" not in info:
            return None
        warm = cls(path)
        warm.info = info
        return warm

    def spawn(self, env: dict, kernel_env: dict, log) -> WarmWorker | str:
        """Fork a lesson worker with ``env``, writing to ``log``; or the reason it must start cold."""
        read_end, write_end = os.pipe()
        try:
            connection = _connect(self.path)
        except OSError as error:
            os.close(read_end)
            os.close(write_end)
            return f"the warm process is not reachable ({error.strerror})"
        try:
            request = json.dumps({"op": "spawn", "env": env, "kernel_env": kernel_env}).encode()
            socket.send_fds(connection, [request], [read_end, log.fileno()])
            answer = receive(connection, timeout=WARM_FORK_TIMEOUT_S)
        except (OSError, ValueError) as error:
            answer = {"cold": f"the warm process did not answer ({error})"}
        finally:
            os.close(read_end)
        if not answer or "pid" not in answer:
            connection.close()
            os.close(write_end)
            return (answer or {}).get("cold", "the warm process ended")
        return WarmWorker(answer["pid"], connection, os.fdopen(write_end, "w", encoding="utf-8"))

    def stop(self) -> None:
        """End it (a run's own: also wait for it)."""
        if self.process is not None:
            processes.kill_tree_of(self.process.pid)
            self.process.wait()
            if self.process.stdout:
                self.process.stdout.close()
            self.path.unlink(missing_ok=True)
            if self.log:
                self.log.unlink(missing_ok=True)
            return
        try:
            with _connect(self.path) as connection:
                send(connection, {"op": "stop"})
                receive(connection, timeout=WARM_STOP_TIMEOUT_S)
        except (OSError, ValueError):
            pass


class WarmWorker:
    """A lesson worker forked by a warm process: the part of ``subprocess.Popen`` the runner uses.

    It is the warm process's child, not ours: its exit status arrives over the connection.
    """

    def __init__(self, pid: int, connection: socket.socket, stdin):
        self.pid, self.connection, self.stdin = pid, connection, stdin
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("lesson worker", timeout)
            self._read(timeout=0.1)
        return self.returncode

    def _read(self, timeout: float) -> None:
        try:
            message = receive(self.connection, timeout=timeout)
        except TimeoutError:
            return
        except (OSError, ValueError):
            message = None
        if message is None and processes.alive(self.pid):
            return  # the warm process is gone: so is its worker, or it soon will be
        self.returncode = -9 if message is None else message.get("exit", -9)
        self.connection.close()


def _connect(path: Path) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


class RunWarmStarts:
    """The warm process one run of lessons uses: the course's, else its own, else none."""

    def __init__(self, jobs: list, env: dict):
        self.warm: WarmProcess | None = None
        self.own = False
        self.plan: dict = {}  # its folder and imports: a lesson they rule out starts without waiting for it
        self.lesson_imports: dict[Path, list[str]] = {}
        folders = {job.notebook.resolve().parent for job in jobs}
        if len(folders) != 1 or not SUPPORTED:
            return
        folder, env = folders.pop(), {**env, **jobs[0].env}
        try:
            course = WarmProcess.running(socket_path(folder))
        except CourseError:  # no private folder for it: so no course warm process either
            course = None
        if course is not None and course.info["environment"] == environment_key(env) and not course.info["stale"]:
            self.warm, self.plan = course, course.info  # started by `course warm`, for an environment like this run's
            return
        if len(jobs) < 2:
            return
        imports = shared_imports([self._imports(job.notebook) for job in jobs])
        self.plan = {"folder": str(folder), "imports": imports}
        if sum(self._may_fork(job, self.plan) for job in jobs) < 2:
            return
        own = processes.new_work_dir() / "warm.sock"
        self.warm = WarmProcess.start(own, folder, imports, env)
        self.own = True

    def spawn(self, job, env: dict, log) -> WarmWorker | None:
        """A worker forked for ``job``, or None: the job starts cold."""
        if self.warm is None or not self._may_fork(job, self.plan):
            return None
        try:
            info = self.warm.wait_ready()
        except CourseError as refused:
            print(f"course: {refused}; lessons start cold", file=sys.stderr, flush=True)
            self.close()
            return None
        if not self._may_fork(job, info):
            return None
        worker = self.warm.spawn(env, {**env, **job.env}, log)
        return worker if isinstance(worker, WarmWorker) else None

    def _may_fork(self, job, info: dict) -> bool:
        return cold_reason(job.notebook, self._imports(job.notebook), info) is None

    def _imports(self, lesson: Path) -> list[str]:
        if lesson not in self.lesson_imports:
            try:
                self.lesson_imports[lesson] = lesson_imports(lesson)
            except Exception:  # unreadable: the worker reports it, from a cold start
                self.lesson_imports[lesson] = []
        return self.lesson_imports[lesson]

    def close(self) -> None:
        if self.warm is not None and self.own:
            self.warm.stop()
            processes.remove_work_dir(self.warm.path.parent)
        self.warm = None


def course_warm_process(root: Path) -> WarmProcess | None:
    """The warm process `course warm` started for this course and this Python, if one runs."""
    return WarmProcess.running(socket_path(root / "lessons"))


def describe(info: dict | None) -> str:
    """One line for `course warm` and `course env`."""
    if info is None:
        return "none (`course warm` starts one)"
    imports = ", ".join(outside_stdlib(info["imports"]))
    idle = f", ends after {info['idle_s'] / 60:g} minutes idle" if info.get("idle_s") else ""
    stale = " (out of date: ends when its lessons finish)" if info.get("stale") else ""
    return f"pid {info['pid']}, imports {imports or 'only ipykernel'}{idle}{stale}"
