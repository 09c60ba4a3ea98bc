"""A sealed kernel for code nobody vouches for (a student's submission): bubblewrap around the kernel and
everything it starts.

Why bubblewrap: it is what Flatpak seals applications with, a Debian and Ubuntu package that needs no daemon
and no root (otter-grader's Docker needs both), and it starts in milliseconds, so sealing costs a submission
nearly nothing. Inside, the kernel has namespaces of its own (no network at all, its own PIDs, IPC and host
name, so it sees and signals none of the grader's processes and reaches no socket but its own kernel's), runs
as an unprivileged user with no capability, even when the grader is root, and sees a read-only world made of:
the system's programs and libraries, the interpreter and its installed packages, and of the course only
``pyproject.toml``, ``data-checksums.txt``, ``src/``, ``data/`` (what a lesson reads) and ``student/tests/``
(the public tests its check cells run). It writes only ``/submission`` (its working folder, HOME, checkpoints,
extracted data), ``/tmp`` and its own ``data/`` (the course's files bound read-only in it), memory file
systems that hold at most ``size_mb`` together; everything else, the new root included, is read-only. Its
environment is cleared to the few variables a lesson needs: no variable of the grader's. Each process's
address space and open files are bounded by resource limits, the number of its processes by ``ProcessCap``
(checked four times a second), its time by the harness's limits and its output by the harness's cap. The kernel's sockets live in the one folder of the grader's it can write (they must be
reachable from both sides).

Where bubblewrap cannot run (macOS, Windows, a Linux without user namespaces), ``unavailable()`` says why and
how to get it.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SUBMISSION = "/submission"  # the sealed kernel's working folder and HOME
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/alternatives", "/etc/ssl")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
COURSE_PARTS = ("pyproject.toml", "data-checksums.txt", "src", "student/tests")  # student/tests: what check cells run
HOW_TO_GET_IT = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; on Ubuntu 24.04 also "
    "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`) on Linux, or grade on a Linux machine or CI"
)


@dataclass(frozen=True)
class Seal:
    """What a sealed kernel may read of the course (``root``), and the bounds it runs within."""

    root: str
    package_source: str  # the folder the course's package is imported from (its src/, unless installed elsewhere)
    size_mb: int = 1024  # /submission and /tmp together
    memory_mb: int = 8192  # address space of each process; torch maps much more than it uses, so this is generous
    processes: int = 256  # at once in the sandbox; more, and it is killed (``ProcessCap``)
    open_files: int = 1024

    def to_json(self) -> dict:
        return dict(vars(self))


def unavailable() -> str | None:
    """Why no kernel can be sealed here, with how to fix it; None when bubblewrap works."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform}: bubblewrap runs on Linux only; {HOW_TO_GET_IT}"
    if shutil.which("bwrap") is None:
        return f"bubblewrap (`bwrap`) is not installed: {HOW_TO_GET_IT}"
    probe = subprocess.run(
        ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bubblewrap cannot make a sandbox here ({why}): user namespaces are off; {HOW_TO_GET_IT}"
    return None


def command(seal: Seal, argv: list[str], sockets: Path) -> list[str]:
    """``argv`` (the kernel) run sealed; ``sockets`` is the kernel's folder of the grader's, its one way out."""
    root = Path(seal.root)
    share = max(1, seal.size_mb // 3) * 1024 * 1024  # /submission, /tmp and data/ each hold a third
    # A fresh root where only what is bound below exists; /tmp first, so binds below it (a course, the
    # kernel's sockets under the system's temporary folder) stay visible on top of it.
    mounts = ["--tmpfs", "/", "--size", str(share), "--tmpfs", "/tmp", "--size", str(share), "--tmpfs", SUBMISSION]
    for folder in SYSTEM_FOLDERS:
        mounts += ["--ro-bind-try", folder, folder]
    for file in SYSTEM_FILES:
        mounts += ["--ro-bind-try", file, file]
    for folder in _python_folders():
        mounts += ["--ro-bind", folder, folder]
    for part in COURSE_PARTS:
        mounts += ["--ro-bind-try", str(root / part), str(root / part)]
    mounts += ["--ro-bind", seal.package_source, seal.package_source]
    # data/: what the lesson downloaded before, each entry read-only, in a folder of the submission's own (pooch
    # checks that it can write there; nothing written reaches the course's cache).
    data = root / "data"
    mounts += ["--size", str(share), "--tmpfs", str(data)]
    for entry in sorted(data.iterdir()) if data.is_dir() else []:
        mounts += ["--ro-bind", str(entry), str(entry)]
    mounts += ["--bind", str(sockets), str(sockets), "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/"]
    # An unprivileged user of its own namespace (nobody), every capability dropped: root running the grader
    # (as in CI) would otherwise leave the kernel root's capabilities inside the sandbox.
    settings = ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL"]
    settings += ["--die-with-parent", "--clearenv", "--chdir", SUBMISSION]
    for name, value in environment(seal).items():
        settings += ["--setenv", name, value]
    return ["bwrap", *settings, *mounts, "--", *argv]


def environment(seal: Seal) -> dict[str, str]:
    """All the sealed kernel's environment: what a lesson needs to find the course, and where it may write."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": SUBMISSION,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": seal.package_source,
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "COURSE_ROOT": seal.root,
        "COURSE_RUN_DIR": f"{SUBMISSION}/run",
        "COURSE_CHECKPOINTS": f"{SUBMISSION}/checkpoints",
        "COURSE_LOCAL_DATA": f"{SUBMISSION}/data",
        "COURSE_AUTORELOAD": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def limit_resources(seal: Seal):
    """A ``preexec_fn`` part: the seal's address space and open-file limits, kept across exec. (Not processes:
    RLIMIT_NPROC counts every process of the user, the grader's included; ``ProcessCap`` counts the sandbox's.)"""
    limits = [
        (resource.RLIMIT_AS, seal.memory_mb * 1024 * 1024),
        (resource.RLIMIT_NOFILE, seal.open_files),
        (resource.RLIMIT_CORE, 0),
    ]

    def apply():
        for kind, value in limits:
            resource.setrlimit(kind, (value, value))

    return apply


class ProcessCap:
    """On the watchdog's beat: a sealed kernel with more than ``limit`` processes at once is killed, sandbox and
    all (killing bubblewrap's process takes its namespace's every process with it)."""

    def __init__(self, sandbox_pid: int, limit: int, every: float = 0.25):
        self.sandbox_pid, self.limit, self.every, self._sampled = sandbox_pid, limit, every, 0.0
        self.exceeded: int | None = None  # how many it had when it was killed

    def tick(self, now: float, watchdog=None) -> None:
        import signal

        import psutil

        from .processes import signal_process

        if self.exceeded is not None or now - self._sampled < self.every:
            return
        self._sampled = now
        try:
            count = len(psutil.Process(self.sandbox_pid).children(recursive=True))
        except psutil.Error:
            return
        if count > self.limit:
            self.exceeded = count
            signal_process(self.sandbox_pid, signal.SIGKILL)


def inner_process(outer: int, marker: str, wait_s: float = 5.0) -> int | None:
    """The host's pid of the process inside the sandbox started by ``outer`` (bubblewrap) whose command line
    holds ``marker``: bubblewrap starts it within milliseconds; None if it never appears."""
    import time

    import psutil

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            commands = {p.pid: p.cmdline() for p in psutil.Process(outer).children(recursive=True)}
        except psutil.Error:
            return None
        found = [pid for pid, line in commands.items() if line and "bwrap" not in line[0] and marker in " ".join(line)]
        if found:
            return found[0]
        time.sleep(0.02)
    return None


def _python_folders() -> list[str]:
    """The interpreter, the standard library and the installed packages, wherever they are (a venv, pyenv)."""
    import sysconfig

    found = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parents[1])}
    found |= {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    found |= {path for path in sys.path if path and os.path.isdir(path) and "site-packages" in path}
    folders = sorted(str(Path(path).resolve()) for path in found if path and os.path.isdir(path))
    return [path for path in folders if not any(path.startswith(other + os.sep) for other in folders)]
