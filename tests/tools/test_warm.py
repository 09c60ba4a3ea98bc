"""Warm starts: lessons forked from a process that has imported what they import, as if started anew.

Real processes throughout: `course test` and `course run` as a user runs them, a real warm
process listening on a real Unix socket, real signals. Each lesson records what it saw (its pid,
its worker's and the warm process's, a random draw, which harness modules it holds, its folder
and threads) in ``state/``.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from colab_course_tools import notebooks
from colab_course_tools.harness.processes import alive
from colab_course_tools.testing import SRC, TOOLS_SRC, course_env, lesson_notebook, tiny_course, wait_for
from course_under_test import TOOLS

SEES = """\
import json, os, sys, random
import numpy, psutil
worker = psutil.Process(os.getppid())
state = {
    "kernel": os.getpid(), "worker": worker.pid, "warm": worker.ppid(),
    "numpy": numpy.random.rand(), "random": random.random(), "cwd": os.getcwd(), "path": sys.path,
    "harness_modules": sorted(m for m in sys.modules if m.startswith(("papermill", "colab_course_tools.harness"))),
    "threads": os.environ.get("OMP_NUM_THREADS"), "marked": hasattr(json, "MARKED"),
    "main": repr(sys.modules["__main__"]), "argv": sys.argv,
}
json.MARKED = True
open(f"../state/{name}.json", "w").write(json.dumps(state))
"""


def seeing(name: str, *cells: str) -> dict:
    return lesson_notebook(SEES.replace("{name}", name), *cells)


def saw(course: Path, name: str) -> dict:
    return json.loads((course / "state" / f"{name}.json").read_text())


@pytest.fixture
def runtime_dir():
    """A private XDG_RUNTIME_DIR, short enough for a Unix socket's path, so no other test's warm process is seen."""
    folder = Path(tempfile.mkdtemp(prefix="xdg-"))
    yield folder
    for process in warm_processes():  # one a failed test left behind
        if str(folder) in " ".join(process.cmdline()):
            process.kill()
    shutil.rmtree(folder, ignore_errors=True)


def cli(course: Path, runtime: Path, *args, timeout=300, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", TOOLS, *args],
        cwd=course,
        env=course_env(XDG_RUNTIME_DIR=str(runtime), **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report(course: Path) -> dict:
    return {entry["lesson"]: entry for entry in json.loads((course / "build" / "report.json").read_text())["lessons"]}


def warm_processes(serving: Path | None = None) -> list[psutil.Process]:
    """Warm processes running now; ``serving``: only those of that lessons folder (their working directory)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        if f"{TOOLS}.harness.warm" in " ".join(process.info["cmdline"] or []):
            if serving is None or process.info["cwd"] == str(serving):
                found.append(process)
    return found


@pytest.fixture
def course(tmp_path):
    root = tiny_course(
        tmp_path / "course",
        {
            "01_a": seeing("01_a"),
            "02_b": seeing("02_b"),
            "03_env_first": lesson_notebook(
                "import os\nos.environ['OMP_NUM_THREADS'] = '2'",
                SEES.replace("{name}", "03_env_first"),
            ),
        },
    )
    (root / "state").mkdir()
    return root


def test_lessons_fork_from_the_runs_warm_process_and_share_nothing_with_each_other(course, runtime_dir):
    done = cli(course, runtime_dir, "test", "-n", "2")

    assert done.returncode == 0, done.stdout + done.stderr
    results = report(course)
    assert results["01_a"]["warm_start"] and results["02_b"]["warm_start"]
    assert results["03_env_first"]["warm_start"] is False  # it sets the environment before its imports
    a, b, first = saw(course, "01_a"), saw(course, "02_b"), saw(course, "03_env_first")
    assert len({a["kernel"], b["kernel"], a["worker"], b["worker"]}) == 4  # each lesson its own processes
    assert a["warm"] == b["warm"] != first["warm"]  # both forked from one warm process; the third was not
    assert not a["marked"] and not b["marked"]  # nothing one lesson did is seen by the other
    assert a["numpy"] != b["numpy"] and a["random"] != b["random"]  # seeded afresh, as new processes are
    assert a["harness_modules"] == b["harness_modules"] == first["harness_modules"] == []
    assert a["main"] == first["main"] and a["argv"][0] == first["argv"][0], (a, first)
    assert a["cwd"] == b["cwd"] == str(course / "lessons") and a["path"] == b["path"] == first["path"]
    assert a["threads"] == b["threads"] == (os.environ.get("OMP_NUM_THREADS") or str(max(1, os.cpu_count() // 2)))
    assert first["threads"] == "2"
    assert not warm_processes(serving=course / "lessons")  # it ended with the run

    cold = cli(course, runtime_dir, "test", "-n", "2", "--force", "--cold")
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert not any(entry["warm_start"] for entry in report(course).values())
    assert saw(course, "01_a")["harness_modules"] == []  # a cold kernel holds the same modules


def test_a_warm_process_that_could_not_fork_safely_is_refused_and_lessons_start_cold(tmp_path, runtime_dir):
    starts_thread = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), name='poller').start()\n"
    lessons = {f"0{n}_t": lesson_notebook("import starts_thread\nx = 1") for n in (1, 2)}
    root = tiny_course(tmp_path / "course", lessons)
    (root / "lessons" / "starts_thread.py").write_text(starts_thread)

    done = cli(root, runtime_dir, "test", "-n", "2")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no warm starts: importing the lessons' modules started Python threads (poller)" in done.stderr
    assert not any(entry["warm_start"] for entry in report(root).values())


def test_peak_ram_of_a_forked_kernel_counts_the_memory_it_shares(tmp_path, runtime_dir):
    allocate = "import numpy\nblock = numpy.ones(40_000_000)  # 305 MiB"
    root = tiny_course(tmp_path / "course", {"01_m": lesson_notebook(allocate), "02_m": lesson_notebook(allocate)})

    warm = cli(root, runtime_dir, "test", "-n", "2")
    warm_peaks = [entry["peak_ram_mb"] for entry in report(root).values() if entry["warm_start"]]
    cold = cli(root, runtime_dir, "test", "-n", "2", "--force", "--cold")
    cold_peaks = [entry["peak_ram_mb"] for entry in report(root).values()]

    assert warm.returncode == cold.returncode == 0
    assert len(warm_peaks) == 2 and all(peak > 305 for peak in warm_peaks + cold_peaks)
    for warm_peak, cold_peak in zip(warm_peaks, cold_peaks, strict=True):
        assert 0.8 < warm_peak / cold_peak < 1.3, (warm_peaks, cold_peaks)


def test_course_warm_serves_runs_until_stopped_and_only_its_own_user(course, runtime_dir):
    swept = lesson_notebook(SEES.replace("{name}", "05_swept"), parameters="x = 1")
    notebooks.write_notebook(course / "lessons" / "05_swept.ipynb", swept)
    started = cli(course, runtime_dir, "warm")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "ready in" in started.stdout and "numpy" in started.stdout
    [socket_path] = list(runtime_dir.glob(f"course-warm-{os.getuid()}/*.sock"))
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    pid = int(started.stdout.split("pid ")[1].split(",")[0])

    again = cli(course, runtime_dir, "warm")
    assert f"already running: pid {pid}" in again.stdout
    assert f"pid {pid}" in cli(course, runtime_dir, "env").stdout

    assert cli(course, runtime_dir, "run", "01_a", "-q").returncode == 0
    assert saw(course, "01_a")["warm"] == pid
    assert cli(course, runtime_dir, "run", "01_a", "-q", "--cold").returncode == 0
    assert saw(course, "01_a")["warm"] != pid
    assert cli(course, runtime_dir, "run", "03_env_first", "-q").returncode == 0
    assert saw(course, "03_env_first")["warm"] != pid  # not its imports: cold, as always
    sweep = cli(course, runtime_dir, "sweep", "05_swept", "-p", "x", "1,2", "-q")
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert saw(course, "05_swept")["warm"] == pid  # each run of the sweep forked from it
    assert psutil.Process(pid).is_running()  # a command's end does not end it

    stopped = cli(course, runtime_dir, "warm", "--stop")
    assert f"stopped (pid {pid})" in stopped.stdout
    assert not alive(pid)
    assert not socket_path.exists() and not socket_path.with_suffix(".log").exists()
    assert "none is running" in cli(course, runtime_dir, "warm", "--stop").stdout
    assert "none (`course warm` starts one)" in cli(course, runtime_dir, "env").stdout


def test_course_warm_ends_when_killed_when_src_or_packages_change_when_idle_and_with_its_session(course, runtime_dir):
    def started(*args, **env) -> int:
        done = cli(course, runtime_dir, "warm", *args, **env)
        assert done.returncode == 0, done.stdout + done.stderr
        return int(done.stdout.split("pid ")[1].split(",")[0])

    def gone(pid):
        return lambda: not alive(pid)

    pid = started()
    os.kill(pid, signal.SIGKILL)
    wait_for(gone(pid), 15, "the killed warm process to go")
    pid = started()  # the socket the killed one left is no obstacle
    (course / "src" / "helper.py").write_text("VALUE = 2\n")
    wait_for(gone(pid), 15, "the warm process to see src/ change")

    packages = course / "site-packages"  # a folder of installed packages, as pip fills one
    packages.mkdir()
    pid = started(PYTHONPATH=os.pathsep.join([str(TOOLS_SRC), str(SRC), str(packages)]))
    (packages / "newly_installed-1.0.dist-info").mkdir()
    wait_for(gone(pid), 15, "the warm process to see a package installed")

    pid = started("--idle", "0.05")
    wait_for(gone(pid), 20, "the idle warm process to end")

    # A login session: its leader (the shell) starts `course warm`, then ends, as a user logging out.
    shell = subprocess.Popen(
        ["setsid", sys.executable, "-m", TOOLS, "warm"],
        cwd=course,
        env=course_env(XDG_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.PIPE,
        text=True,
    )
    output = shell.communicate(timeout=120)[0]
    pid = int(output.split("pid ")[1].split(",")[0])
    assert psutil.Process(pid).is_running()
    wait_for(gone(pid), 15, "the warm process to end with the session that started it")


def test_a_killed_run_takes_its_lesson_from_the_warm_process_with_it(course, runtime_dir):
    sleeper = lesson_notebook(SEES.replace("{name}", "04_sleeps"), "import time\ntime.sleep(600)")
    notebooks.write_notebook(course / "lessons" / "04_sleeps.ipynb", sleeper)
    assert cli(course, runtime_dir, "warm").returncode == 0
    run = subprocess.Popen(
        [sys.executable, "-m", TOOLS, "run", "04_sleeps", "-q"],
        cwd=course,
        env=course_env(XDG_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    recorded = course / "state" / "04_sleeps.json"
    wait_for(lambda: recorded.exists() and recorded.read_text().endswith("}"), 60, "the lesson to start")
    state = saw(course, "04_sleeps")
    run.kill()
    run.wait()

    for pid in (state["kernel"], state["worker"]):
        wait_for(lambda pid=pid: not psutil.pid_exists(pid), 15, f"the lesson's process {pid} to end")
    assert psutil.Process(state["warm"]).is_running()  # still serving the next run
    assert cli(course, runtime_dir, "warm", "--stop").returncode == 0


def test_a_runtime_folder_others_can_reach_is_refused(course, runtime_dir):
    shared = runtime_dir / f"course-warm-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)

    done = cli(course, runtime_dir, "warm")

    assert done.returncode == 1
    assert f"{shared} is not a private folder of yours" in done.stderr and "mode 777" in done.stderr
    assert not list(shared.iterdir())


def test_ctrl_c_while_course_warm_imports_leaves_no_process_and_no_socket(tmp_path, runtime_dir):
    lessons = {f"0{n}_slow": lesson_notebook("import slow_to_import\nx = 1") for n in (1, 2)}
    root = tiny_course(tmp_path / "course", lessons)
    (root / "lessons" / "slow_to_import.py").write_text("import time\ntime.sleep(120)\n")
    warm = subprocess.Popen(
        [sys.executable, "-m", TOOLS, "warm"],
        cwd=root,
        env=course_env(XDG_RUNTIME_DIR=str(runtime_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: warm_processes(serving=root / "lessons"), 60, "the warm process to start importing")
    [importing] = warm_processes(serving=root / "lessons")

    os.killpg(warm.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the command's process group
    stdout, stderr = warm.communicate(timeout=30)

    assert warm.returncode == 130, stdout + stderr
    assert "course warm: interrupted" in stderr
    wait_for(lambda: not importing.is_running() or importing.status() == psutil.STATUS_ZOMBIE, 10, "it to end")
    assert not list(runtime_dir.glob("course-warm-*/*"))  # no socket, no log


def test_course_warm_skips_an_unreadable_lesson_and_serves_the_others(course, runtime_dir):
    """As `course test` isolates a lesson it cannot read, `course warm` leaves it out, in one line."""
    (course / "lessons" / "04_broken.ipynb").write_text("{not json", encoding="utf-8")
    try:
        started = cli(course, runtime_dir, "warm")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "course warm: skipping 04_broken.ipynb: not valid JSON" in started.stdout
        assert "course warm: ready in" in started.stdout
    finally:
        cli(course, runtime_dir, "warm", "--stop")


ROGUE = """\
import subprocess
child = subprocess.Popen(["sleep", "4343"], start_new_session=True)  # left its session: only a subreaper finds it
state["child"] = child.pid
open("../state/06_rogue.json", "w").write(json.dumps(state))
os.kill(worker.pid, 9)
"""


def test_what_a_forked_lesson_leaves_when_its_worker_is_killed_is_stopped_under_course_warm(course, runtime_dir):
    """Cold, and forked from the warm process `course test` starts for itself, nothing is left; forked from a
    running `course warm`, the lesson's `setsid` child was left running (two runs of two)."""
    rogue = lesson_notebook(SEES.replace("{name}", "06_rogue"), ROGUE)
    notebooks.write_notebook(course / "lessons" / "06_rogue.ipynb", rogue)
    started = cli(course, runtime_dir, "warm")
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int(started.stdout.split("pid ")[1].split(",")[0])
    try:
        for _ in range(2):
            done = cli(course, runtime_dir, "test", "06_rogue", "--force")
            assert done.returncode == 1 and "without a result" in done.stdout, done.stdout + done.stderr
            state = saw(course, "06_rogue")
            assert state["warm"] == pid  # forked from `course warm`
            wait_for(lambda child=state["child"]: not alive(child), 30, "the lesson's setsid child to be stopped")
    finally:
        cli(course, runtime_dir, "warm", "--stop")
