"""Child processes of the harness: the environment they start with, and clean-up of their trees.

Every child that runs course code (lesson workers, kernels, sweep runs) gets its environment
from ``child_env``: this package importable and, when several run side by side, its share of
the cores.

Nothing a kernel starts may outlive its lesson. A kernel's children can escape the usual clean-up: a process that calls ``setsid``
(``start_new_session=True``) leaves the kernel's process group, and one whose parent
died is re-parented to init. The lesson worker therefore makes itself a *child
subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): orphans below it are re-parented to
it instead of init, so walking its children finds every process the lesson started.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

import psutil

from .limits import KILL_WAIT_S

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
WORK_DIR_PREFIX = "course-kernel-"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def child_env(*, workers: int = 1, **extra: str) -> dict:
    """This process's environment for a child running course code, plus ``extra``.

    The tools' folder and the course's ``src/`` go first on ``PYTHONPATH`` (once: a child's child gets the
    same value, so the warm process can tell their environments equal): in Colab only ``sys.path`` knows them.
    """
    env = dict(os.environ)
    first = [str(Path(__file__).resolve().parents[2]), *_course_source()]
    others = [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path and path not in first]
    env["PYTHONPATH"] = os.pathsep.join([*first, *others])
    env.update(thread_limits(workers))
    env.update(extra)
    return env


def _course_source() -> list[str]:
    """The folder this process imports the course's package from, when this runs in a course."""
    from ..config import find_root, package_source
    from ..errors import CourseError

    try:
        return [str(package_source(find_root()))]
    except CourseError:
        return []


def thread_limits(workers: int) -> dict:
    """Environment giving each of ``workers`` parallel kernels (lessons, sweep runs) its share of the cores.

    Each torch/OpenMP/BLAS runtime starts one thread per core by default; two lessons on two
    cores then run four busy threads that slow each other down. Settings the user made win.
    """
    if workers <= 1:
        return {}
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {name: share for name in _THREAD_VARIABLES if name not in os.environ}


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    return _libc().prctl(option, value, 0, 0, 0) == 0


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(signum: int) -> bool:
    """Have the kernel send ``signum`` to this process when its parent dies (Linux; False elsewhere).

    The signal comes when the *thread* that started this process ends, so the harness starts
    its workers from its main thread. A parent that is already gone counts too.
    """
    parent = os.getppid()
    armed = _prctl(_PR_SET_PDEATHSIG, signum)
    if armed and os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signum)
    return armed


def die_with_parent_preexec(signum: int):
    """A ``preexec_fn`` for ``subprocess.Popen``: the child dies with the process that starts it.

    libc is loaded here, in the parent, so the child between fork and exec only makes one call.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = _libc().prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)


def signal_process(pid: int, signum: int) -> None:
    """Send a signal, ignoring a process that is already gone."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def new_work_dir() -> Path:
    """A private temporary folder for one kernel (connection file, sockets), named after its owner's pid."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"{WORK_DIR_PREFIX}{os.getpid()}-"))


def remove_work_dir(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def batch():
    """The life of a command that runs lessons (`course test`, `course run`, `course grade`): kernel folders of
    commands that died are removed, orphans are adopted (a killed worker's children come here, to be killed
    too), SIGTERM and SIGHUP stop the block as Ctrl-C does, and at the end nothing of ours is left: no
    descendant, no kernel folder."""
    remove_stale_work_dirs()
    become_subreaper()
    try:
        with stop_on_signals():
            yield
    finally:
        leave_nothing_behind()


def leave_nothing_behind() -> None:
    """The end of a command that ran lessons: no descendant left, and no kernel folder of this process."""
    kill_descendants()
    remove_own_work_dirs()


def remove_own_work_dirs() -> None:
    """Remove the kernel folders this process made, once its workers are gone: one made just as a signal
    arrived may have no worker object left to remove it."""
    import tempfile

    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_DIR_PREFIX}{os.getpid()}-*"):
        remove_work_dir(folder)


def remove_stale_work_dirs() -> list[Path]:
    """Remove kernel folders left by harness processes that were killed outright (no process is theirs now)."""
    import re
    import tempfile

    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_DIR_PREFIX}*"):
        owner = re.match(rf"{WORK_DIR_PREFIX}(\d+)-", folder.name)
        if owner and folder.is_dir() and not psutil.pid_exists(int(owner[1])):
            remove_work_dir(folder)
            removed.append(folder)
    return removed


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); returns False where the OS has no such notion."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def kill_tree(root: psutil.Process, *, include_root: bool = True, timeout: float = 5.0) -> list[int]:
    """SIGKILL ``root``'s descendants (and ``root``), repeating until none is left; returns their pids.

    Repeats because a dying process may still fork, and orphans of killed
    processes reach a subreaper only after their parent is gone.
    """
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            victims = root.children(recursive=True)
        except psutil.NoSuchProcess:
            victims = []
        if include_root and root.is_running() and root.pid != os.getpid():
            victims.append(root)
        victims = [p for p in victims if p.pid != os.getpid()]
        if not victims or time.monotonic() > deadline:
            break
        for process in victims:
            try:
                process.send_signal(signal.SIGKILL)
                killed.append(process.pid)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=KILL_WAIT_S)
        reap_zombies()
    return killed


def descendants_rss() -> int:
    """Resident memory, in bytes, of every process below this one (gone or inaccessible ones count 0)."""
    return _descendants_total(lambda process: process.memory_info().rss)


def descendants_uss() -> int:
    """Memory, in bytes, that only the processes below this one hold (their own pages, not shared ones)."""
    return _descendants_total(lambda process: process.memory_full_info().uss)


def _descendants_total(measure) -> int:
    total = 0
    for process in psutil.Process().children(recursive=True):
        try:
            total += measure(process)
        except psutil.Error:
            pass
    return total


class MemoryPeak:
    """The peak of the lesson's memory, sampled every ``every`` seconds on the watchdog's beat.

    A cold kernel's is ``descendants_rss``. A kernel forked from the warm process maps that
    process's memory, shared, and a fork only counts the pages it has touched since as resident;
    its memory is counted as a cold kernel would have it: all of the warm process's resident
    memory (``shared_bytes``) plus the pages the kernel and its children hold alone.
    """

    def __init__(self, shared_bytes: int | None = None, every: float = 0.5):
        self.shared_bytes, self.every, self.peak_bytes, self._sampled = shared_bytes, every, 0, 0.0

    def tick(self, now: float, watchdog=None) -> None:
        if now - self._sampled >= self.every:
            self.sample()

    def sample(self) -> None:
        self._sampled = time.monotonic()
        if self.shared_bytes is None:
            used = descendants_rss()
        else:
            used = self.shared_bytes + descendants_uss()
        self.peak_bytes = max(self.peak_bytes, used)


def device_in_use(pid: int) -> str | None:
    """``"cuda"`` when the process has loaded NVIDIA's driver library, ``"cpu"`` when it has not, None when it
    is gone: what a lesson stopped mid-cell was using, seen from outside (the kernel is too busy to be asked)."""
    try:
        mapped = {Path(region.path).name for region in psutil.Process(pid).memory_maps(grouped=True)}
    except (psutil.Error, OSError):
        return None
    return "cuda" if any(name.startswith("libcuda.so") for name in mapped) else "cpu"


def kill_tree_of(pid: int) -> list[int]:
    """``kill_tree`` for a pid that may already be gone."""
    try:
        return kill_tree(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return []


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(KeyboardInterrupt):
    """A signal that stops the work (SIGINT, SIGTERM, SIGHUP), raised in the main thread like Ctrl-C's
    KeyboardInterrupt: the one exception that means "stopped from outside". ``results`` holds what a
    stopped run of lessons had, when it has any (``runner``)."""

    def __init__(self, signum: int, results: list | None = None):
        super().__init__(signum)
        self.signum, self.results = signum, results or []

    def __str__(self) -> str:
        text = f"stopped by {signal_name(self.signum)}"
        if not self.results:
            return text
        stopped = sum(result.status == "interrupted" for result in self.results)
        return f"{text}: {stopped} lesson{'s' if stopped != 1 else ''} interrupted"


def signum_of(stop: KeyboardInterrupt) -> int:
    """The signal behind a KeyboardInterrupt: an ``Interrupted``'s own, else Ctrl-C's SIGINT."""
    return getattr(stop, "signum", signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(*signums: int):
    """While the block runs, SIGTERM and SIGHUP (or ``signums``) stop it as Ctrl-C does, raising ``Interrupted``."""

    def handler(signum, frame):
        raise Interrupted(signum)

    chosen = signums or (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, handler) for signum in chosen}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def kill_descendants(timeout: float = 5.0) -> list[int]:
    """Kill every descendant of this process (adopted orphans included) and reap them."""
    return kill_tree(psutil.Process(), include_root=False, timeout=timeout)


def reap_zombies() -> None:
    """Collect exit statuses of dead children (adopted orphans become zombies until reaped)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
