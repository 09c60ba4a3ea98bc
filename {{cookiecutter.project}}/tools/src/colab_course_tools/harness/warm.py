"""The warm process: it imports what lessons import once, then forks a lesson worker per lesson.

``python -m <package>.harness.warm CONFIG`` (started by ``warm_starts``). It imports ipykernel and
the lessons' shared imports (``prewarm``'s rule) in the lessons' folder, with the lessons'
environment, then what a lesson worker imports (papermill; the kernel forked later drops those
from its ``sys.modules``), freezes all of it out of the garbage collector's walks, and refuses to
serve (printing why) when that left it unfit to fork: a thread it cannot account for, or CUDA initialised.
Threads that OpenBLAS starts for its pool are accounted for: OpenBLAS stops them before a fork
and starts them again in the child.

Then it listens on a Unix socket (a 0600 socket in a 0700 folder, and only its own user's
connections are served). A request is one packet of JSON with the worker's stdin and log file
descriptors attached; the warm process forks a worker (``worker.main``, which forks the kernel in
turn, ``forked``) and answers ``{"pid": N}``, then ``{"exit": STATUS}`` when the worker ends. A
client that disconnects gets its worker stopped (SIGTERM). A request whose environment differs
from the warm process's (beyond the variables a run sets for itself and nothing reads at import)
is answered ``{"cold": REASON}``: its imports would have seen another environment.

It ends when told to (SIGTERM, ``{"op": "stop"}``), when its parent dies (a run's own warm
process), after ``idle`` seconds without a lesson, when a file under ``watch`` (the course's
``src/``) or a folder of installed packages changes, and when the login session that started
it ends. Standard library only here: what this module imports, each lesson's kernel keeps.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import selectors
import shutil
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

# Set by each run or by the shell, and read by nothing at import time: they may differ.
PER_RUN_VARIABLES = frozenset(
    {
        *("COURSE_ROOT", "COURSE_RUN_DIR", "COURSE_LESSON", "COURSE_CHECKPOINTS", "COURSE_DIE_WITH_PARENT"),
        "COURSE_PROGRESS_S",
        *("JPY_PARENT_PID", "PWD", "OLDPWD", "SHLVL", "_"),
    }
)
KERNEL_IMPORTS = (  # what a kernel has imported by the time it answers, as measured on ipykernel 6 and 7
    *("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "IPython"),
    *("IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect", "IPython.core.logger"),
    *("IPython.extensions.storemagic", "sqlite3", "tornado.platform.asyncio", "psutil"),
)
WORKER_IMPORTS = ("papermill", "jupyter_client.provisioning", f"{__package__}.worker", f"{__package__}.kernel")
MAX_PACKET = 1 << 18
CHECK_EVERY_S = 2.0


def main(config: dict) -> int:
    """Import, check, then serve until told to stop; what happened is one JSON line on stdout."""
    started = time.time()
    environment = dict(os.environ)  # as the lessons' kernels start with it, before imports change it
    ours = {name for name in sys.modules if name.partition(".")[0] == __package__.partition(".")[0]}
    if sys.path and Path(sys.path[0] or ".").resolve() == Path.cwd().resolve():
        del sys.path[0]  # as ipykernel_launcher does; IPython puts the cwd back, where it puts it
    for name in KERNEL_IMPORTS:
        importlib.import_module(name)
    from IPython.core.shellapp import InteractiveShellApp

    InteractiveShellApp().init_path()
    imported = []
    for name in config["imports"]:
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception:  # the lesson meets the same error in its own cell
            pass
    # What `-m` loaded to run this module (the course package and its harness) is no kernel's, unless imported.
    kernel_modules = frozenset(set(sys.modules) - (ours - set(imported)))
    for name in WORKER_IMPORTS:
        importlib.import_module(name)
    gc.freeze()
    unfit = unfit_to_fork()
    if unfit:
        _say({"refused": unfit})
        return 0
    info = {
        "pid": os.getpid(),
        "folder": os.getcwd(),
        "imports": imported,
        "python": sys.executable,
        "started": started,
        "import_seconds": round(time.time() - started, 2),
        "resident_bytes": _resident_bytes(),
        "environment": environment_key(environment),
        "idle_s": config.get("idle"),
        "watch": config.get("watch"),
    }
    server = WarmServer(Path(config["socket"]), info, config, environment, kernel_modules)
    _say({"ready": info})
    return server.serve()


def unfit_to_fork() -> str | None:
    """Why forking this process now would be unsafe, or None."""
    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread())
        return f"importing the lessons' modules started Python threads ({names})"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "importing the lessons' modules initialised CUDA, which a forked process cannot use"
    extra = len(os.listdir("/proc/self/task")) - 1 if os.path.isdir("/proc/self/task") else 0
    pooled = _openblas_pool_threads()
    if extra > pooled:
        return (
            f"importing the lessons' modules started {extra} native threads, of which only {pooled} belong to "
            "OpenBLAS thread pools (which survive a fork); another thread pool would hang in a forked kernel"
        )
    return None


def _openblas_pool_threads() -> int:
    """Threads that OpenBLAS pools of the loaded libraries keep (one per core beyond the calling thread)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 0
    return sum(max(0, pool["num_threads"] - 1) for pool in threadpool_info() if pool["internal_api"] == "openblas")


def _resident_bytes() -> int:
    """This process's resident memory: what each forked kernel maps of it, shared."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _say(message: dict) -> None:
    print(json.dumps(message), flush=True)


class WarmServer:
    """The socket, the workers forked for its clients, and the reasons to end."""

    def __init__(self, path: Path, info: dict, config: dict, environment: dict, kernel_modules: frozenset):
        self.path, self.info, self.kernel_modules = path, info, kernel_modules
        self.idle_s = config.get("idle")
        self.watch = Path(config["watch"]) if config.get("watch") else None
        self.session_leader = config.get("session_leader")
        self.own_folder = config.get("own_folder", False)
        self.session = _session_of(self.session_leader)
        self.env = _comparable(environment)
        # What the imports did to the environment (torch sets KMP_* variables): a forked worker gets it too.
        self.imports_set = {name: value for name, value in os.environ.items() if environment.get(name) != value}
        self.imports_unset = set(environment) - set(os.environ)
        self.workers: dict[int, socket.socket] = {}  # worker pid -> its client's connection
        self.last_active = time.monotonic()
        self.fingerprint = self._fingerprint()
        self.checked = time.monotonic()
        self.stale = False
        self.selector = selectors.DefaultSelector()
        old_umask = os.umask(0o177)
        try:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.listener.bind(str(path))
        finally:
            os.umask(old_umask)
        self.listener.listen(16)
        self.selector.register(self.listener, selectors.EVENT_READ)
        # A worker's end wakes the loop at once: SIGCHLD writes to this pipe.
        self.wakeup, self.wakeup_writer = os.pipe()
        os.set_blocking(self.wakeup, False)
        os.set_blocking(self.wakeup_writer, False)
        self.selector.register(self.wakeup, selectors.EVENT_READ)

    def serve(self) -> int:
        from . import processes

        processes.become_subreaper()  # what a lesson leaves when its worker is killed comes here: _stop_orphans
        signal.signal(signal.SIGTERM, _exit_on_signal)
        signal.signal(signal.SIGHUP, _exit_on_signal)
        signal.signal(signal.SIGINT, _exit_on_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wakeup_writer)
        try:
            while not self._should_end():
                for key, _ in self.selector.select(timeout=CHECK_EVERY_S / 4):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj == self.wakeup:
                        os.read(self.wakeup, 4096)
                    else:
                        self._handle(key.fileobj)
                self._reap()
                self._stop_orphans()
        finally:
            self._close()
        return 0

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        uid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            connection.close()
            return
        self.selector.register(connection, selectors.EVENT_READ)

    def _handle(self, connection: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(connection, MAX_PACKET, 2)
        except OSError:
            data, fds = b"", []
        if not data:  # the client is gone: so must be its worker
            self._drop(connection)
            return
        self.last_active = time.monotonic()
        try:
            answer = self._answer(json.loads(data), connection, fds)
        except (ValueError, KeyError, TypeError, AttributeError):
            answer = {"cold": "the request was not understood"}
        finally:
            for fd in fds:
                os.close(fd)
        if answer is not None:
            send(connection, answer)

    def _answer(self, request: dict, connection: socket.socket, fds: list[int]) -> dict | None:
        op = request.get("op")
        if op == "status":
            return {**self.info, "lessons_running": len(self.workers), "stale": self.stale}
        if op == "stop":
            raise SystemExit(0)
        if op != "spawn" or len(fds) != 2:
            return {"cold": "the request was not understood"}
        if self.stale:
            return {"cold": "the course's code or installed packages changed since the warm process started"}
        theirs = _comparable(request["kernel_env"])
        differs = sorted(name for name in self.env.keys() | theirs.keys() if self.env.get(name) != theirs.get(name))
        if differs:
            return {"cold": f"its environment differs from the warm process's in {', '.join(differs[:5])}"}
        pid = self._fork_worker(request["env"], fds, connection)
        self.workers[pid] = connection
        return {"pid": pid}

    def _fork_worker(self, env: dict, fds: list[int], connection: socket.socket) -> int:
        pid = os.fork()
        if pid:
            return pid
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            from . import forked
            from .worker import main as worker_main

            forked.default_signal_handlers()
            self.selector.close()
            self.listener.close()
            os.close(self.wakeup)
            os.close(self.wakeup_writer)
            for client in {connection, *self.workers.values()}:
                client.close()
            os.setsid()
            stdin, log = fds
            os.dup2(stdin, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(stdin)
            os.close(log)
            sys.stdin = open(0, encoding="utf-8", closefd=False)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
            os.environ.clear()
            os.environ.update({name: value for name, value in env.items() if name not in self.imports_unset})
            os.environ.update(self.imports_set)
            forked.WARM_MODULES = self.kernel_modules
            status = worker_main(warm=True, shared_bytes=self.info["resident_bytes"])
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(status)

    def _stop_orphans(self) -> None:
        """A lesson whose worker was killed leaves what it started (a `setsid` child) to this process, their
        subreaper: every child that is not a worker is such a leftover, stopped as `course test` stops a cold
        lesson's. Reaped by ``_reap``."""
        import psutil

        from . import processes

        for child in psutil.Process().children():
            try:
                leftover = child.pid not in self.workers and child.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                continue
            if leftover:
                processes.kill_tree(child)

    def _reap(self) -> None:
        while True:  # workers, and the leftovers _stop_orphans killed
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            connection = self.workers.pop(pid, None)
            if connection is not None:
                self.last_active = time.monotonic()
                try:
                    send(connection, {"exit": os.waitstatus_to_exitcode(status)})
                except OSError:
                    pass
                self._forget(connection)

    def _drop(self, connection: socket.socket) -> None:
        for pid, client in list(self.workers.items()):
            if client is connection:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        self._forget(connection)

    def _forget(self, connection: socket.socket) -> None:
        if connection not in self.workers.values():
            try:
                self.selector.unregister(connection)
            except (KeyError, ValueError):
                pass
            connection.close()

    def _should_end(self) -> bool:
        now = time.monotonic()
        if now - self.checked >= CHECK_EVERY_S:
            self.checked = now
            if self.session_leader and _session_of(self.session_leader) != self.session:
                return True  # the login session that started it is over
            if not self.stale and self._fingerprint() != self.fingerprint:
                self.stale = True
        if self.workers:
            return False
        return self.stale or (self.idle_s is not None and now - self.last_active > self.idle_s)

    def _fingerprint(self) -> tuple:
        """What, once changed, makes the imports out of date: the course's code and the package folders."""
        entries = []
        if self.watch is not None:
            for path in sorted(self.watch.rglob("*.py")):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                entries.append((str(path), stat.st_mtime_ns, stat.st_size))
        for folder in filter(None, sys.path):  # not '': the lessons' folder changes as lessons are saved
            try:
                entries.append((folder, os.stat(folder).st_mtime_ns))
            except OSError:
                pass
        return tuple(entries)

    def _close(self) -> None:
        for pid in self.workers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for path in (self.path, self.path.with_suffix(".log")):  # its log too: it ended as it should
            try:
                path.unlink()
            except OSError:
                pass
        if self.own_folder:  # a run's own, made for it alone: gone with it, even if the run was killed
            shutil.rmtree(self.path.parent, ignore_errors=True)
        self.listener.close()


def _comparable(env) -> dict:
    return {name: value for name, value in env.items() if name not in PER_RUN_VARIABLES}


def environment_key(env) -> str:
    """Equal for two environments that differ only in what a run sets for itself."""
    import hashlib

    return hashlib.sha256(json.dumps(sorted(_comparable(env).items())).encode()).hexdigest()[:16]


def _session_of(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def send(connection: socket.socket, message: dict) -> None:
    """One message of the protocol: a packet of JSON."""
    connection.send(json.dumps(message).encode())


def receive(connection: socket.socket, timeout: float) -> dict | None:
    """One message of the protocol; None when the other end closed; TimeoutError when none came in time."""
    ready, _, _ = select.select([connection], [], [], timeout)
    if not ready:
        raise TimeoutError
    data = connection.recv(MAX_PACKET)
    return json.loads(data) if data else None


def _exit_on_signal(signum, frame):
    raise SystemExit(0)


if __name__ == "__main__":
    if len(sys.argv) == 2:
        os._exit(main(json.loads(sys.argv[1])))
    print(f"usage: python -m {__spec__.name} CONFIG_JSON", file=sys.stderr)
    sys.exit(2)
