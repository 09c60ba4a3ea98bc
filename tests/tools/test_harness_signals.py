"""`course test` under interruption: real signals to real processes, and nothing left behind.

Each lesson here records the pids it cares about (its kernel, its worker, a child in a session
of its own) in ``state/``; after the harness ends, by a signal or otherwise, none may be alive.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from colab_course_tools.harness.processes import alive
from colab_course_tools.testing import course_env, lesson_notebook, tiny_course, wait_for
from course_under_test import TOOLS

RECORD = """\
import json, os, subprocess, sys, time
child = subprocess.Popen(["sleep", "600"], start_new_session=True)  # left its session: only a subreaper finds it
state = {"kernel": os.getpid(), "worker": os.getppid(), "child": child.pid}
open(f"../state/{name}.json", "w").write(json.dumps(state))
"""
SLEEP = 'open(f"../state/{name}.sleeping", "w").close()\nwhile True:\n    time.sleep(0.1)'


def lesson(name: str, *cells: str) -> dict:
    return lesson_notebook(*(cell.replace("{name}", name) for cell in (RECORD, *cells)))


def sleeping(course: Path, *names: str) -> bool:
    return all((course / "state" / f"{name}.sleeping").exists() for name in names)


def recorded(course: Path, name: str) -> dict:
    path = course / "state" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def start(course: Path, *args: str) -> subprocess.Popen:
    """`course test ...` in a process group of its own, as a shell starts a command."""
    return subprocess.Popen(
        [sys.executable, "-m", TOOLS, "test", *args],
        cwd=course,
        env=course_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def report(course: Path) -> dict:
    data = json.loads((course / "build" / "report.json").read_text())
    return {entry["lesson"]: entry for entry in data["lessons"]}


def work_dirs_of(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"course-kernel-{pid}-*"))


@pytest.fixture
def course(tmp_path):
    root = tiny_course(
        tmp_path / "course",
        {
            "00_quick": lesson("00_quick"),
            "01_slow": lesson("01_slow", SLEEP),
            "02_slow": lesson("02_slow", SLEEP),
            "03_queued": lesson("03_queued"),
        },
    )
    (root / "state").mkdir()
    return root


@pytest.mark.parametrize(
    "target, signum",
    [("group", signal.SIGINT), ("pid", signal.SIGINT), ("pid", signal.SIGTERM), ("pid", signal.SIGHUP)],
    ids=["ctrl-c", "sigint-to-pid", "sigterm", "sighup"],
)
def test_a_signal_stops_the_run_reports_it_and_leaves_no_process(course, target, signum):
    run = start(course, "-n", "2", "--cell-timeout", "300")
    try:
        wait_for(lambda: sleeping(course, "01_slow", "02_slow"), 90, "both slow lessons")
        stopped_at = time.monotonic()
        if target == "group":
            os.killpg(run.pid, signum)  # what Ctrl-C in a terminal does
        else:
            run.send_signal(signum)
        output, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 128 + signum, output
    assert time.monotonic() - stopped_at < 20
    results = report(course)
    assert results["00_quick"]["status"] == "passed"
    for name in ("01_slow", "02_slow"):
        assert results[name]["status"] == "interrupted", results[name]
        assert results[name]["failed_cell"] == 2 and "time.sleep" in results[name]["failed_source"]
        assert results[name]["error"].startswith(f"interrupted by {signal.Signals(signum).name}")  # the one sent
        assert results[name]["device"] == "cpu", results[name]  # what it was using, not "unknown"
    assert results["03_queued"]["status"] == "interrupted"
    assert results["03_queued"]["error"] == f"not started: the run was stopped by {signal.Signals(signum).name} first"
    assert not recorded(course, "03_queued"), "a queued lesson never starts"
    assert f"course test: stopped by {signal.Signals(signum).name}" in output and "STOPPED  01_slow" in output
    pids = [pid for name in ("00_quick", "01_slow", "02_slow") for pid in recorded(course, name).values()]
    wait_for(lambda: not [pid for pid in pids if alive(pid)], 10, "every process of the run to end")
    assert work_dirs_of(run.pid) == []


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """The first interrupt waits for the workers to stop their lessons; one that hangs is killed at the second."""
    course = tiny_course(
        tmp_path / "course",
        {"00_stuck": lesson("00_stuck", "os.kill(os.getppid(), 19)  # SIGSTOP: the worker hangs", SLEEP)},
    )
    (course / "state").mkdir()
    run = start(course)
    try:
        wait_for(lambda: recorded(course, "00_stuck"), 90, "the lesson")
        wait_for(
            lambda: psutil.Process(recorded(course, "00_stuck")["worker"]).status() == psutil.STATUS_STOPPED,
            30,
            "the stop",
        )
        os.killpg(run.pid, signal.SIGINT)
        time.sleep(1)
        second = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        output, _ = run.communicate(timeout=30)
    finally:
        run.kill()
    assert time.monotonic() - second < 5, "the second Ctrl-C does not wait for the stuck worker"
    assert run.returncode == 130, output
    assert report(course)["00_stuck"]["status"] == "interrupted"
    pids = list(recorded(course, "00_stuck").values())
    wait_for(lambda: not [pid for pid in pids if alive(pid)], 10, "the stuck worker and its kernel to be gone")


def test_killing_the_harness_outright_takes_every_lesson_process_with_it(course):
    run = start(course, "-n", "2")
    try:
        wait_for(lambda: sleeping(course, "01_slow", "02_slow"), 90, "both slow lessons")
        below = psutil.Process(run.pid).children(recursive=True)  # workers (forked or not), kernels, the warm process
        run.send_signal(signal.SIGKILL)  # no handler runs: the workers notice on their own
        run.wait(timeout=10)
    finally:
        run.kill()
    pids = [pid for name in ("01_slow", "02_slow") for pid in recorded(course, name).values()]
    wait_for(lambda: not [pid for pid in pids if alive(pid)], 15, "workers, kernels and their children to end")
    # A worker removes its kernel's folder before it exits: wait for those events, however busy the machine
    # (the bounds only stop a test that would hang).
    _, survivors = psutil.wait_procs(below, timeout=300)
    assert not survivors, survivors
    wait_for(lambda: not work_dirs_of(run.pid), 120, "the kernels' folders to be removed")


def test_a_lesson_that_kills_its_worker_leaves_nothing_running(tmp_path):
    course = tiny_course(
        tmp_path / "course", {"00_rogue": lesson("00_rogue", "os.kill(os.getppid(), 9)\ntime.sleep(30)")}
    )
    (course / "state").mkdir()
    run = start(course)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 1, output
    result = report(course)["00_rogue"]
    assert result["status"] == "failed" and "exited with -9 without a result" in result["error"]
    pids = list(recorded(course, "00_rogue").values())
    wait_for(lambda: not [pid for pid in pids if alive(pid)], 10, "the kernel and the escaped child to end")


def test_the_harness_removes_every_kernel_folder_it_made_and_no_other():
    """The last clean-up of `course test`: a folder made as a signal arrived has no worker left to remove it."""
    from colab_course_tools.harness import processes

    mine = processes.new_work_dir()
    theirs = Path(tempfile.mkdtemp(prefix=f"{processes.WORK_DIR_PREFIX}{os.getppid()}-"))
    try:
        processes.remove_own_work_dirs()
        assert not mine.exists() and theirs.exists()
    finally:
        processes.remove_work_dir(theirs)
