"""A hostile class graded for real, in the real sandbox (bubblewrap): each attack is stopped and costs only its
own points, and nothing outside the submissions' own folders changes.

Every hostile submission answers `accuracy` with its attack followed by the right answer, kept only when the
attack came to nothing: a submission whose attack worked loses that question, so its points say what it
reached. `total` is answered right by all, and one honest submission shows what full points are.
"""

import csv
import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from colab_course_tools.harness import sandbox
from colab_course_tools.testing import ACCURACY_SOLUTION, answered, course_env, exercise_lesson, tiny_course
from course_under_test import TOOLS

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
SECRET = "COURSE_GRADER_SECRET"
KEPT_IF_BLOCKED = f"\nif reached:\n    accuracy = 999\nelse:\n    {ACCURACY_SOLUTION}\n"
ATTACKS = {
    "proc_environ": """
import os
reached = [p for p in os.listdir('/proc') if p.isdigit() and b'{secret}' in open(f'/proc/{{p}}/environ', 'rb').read()]
reached += [k for k in os.environ if k == '{secret}']
reached += [p for p in os.listdir('/proc') if p.isdigit() and os.readlink(f'/proc/{{p}}/cwd') == '{root}']
""",
    "writes_course": """
reached = []
for target in ('{root}/lessons/planted.py', '{root}/src/planted.py', '{root}/student/tests/planted.py', '{root}/pyproject.toml'):
    try:
        open(target, 'a').write('import os  # planted')
        reached.append(target)
    except OSError:
        pass
for target in ('{root}/planted.txt', '{home}/planted'):  # at most the sandbox's own /tmp: see the hashes
    try:
        open(target, 'w').write('planted')
    except OSError:
        pass
""",
    "reads_hidden_tests": """
import glob
reached = glob.glob('{root}/build/grading/**/*.py', recursive=True)
for path in ('{root}/build/grading/00_exercises/accuracy.py', '{root}/lessons/00_exercises.ipynb'):
    try:
        reached.append(open(path).read())
    except OSError:
        pass
""",
    "network": """
import socket
reached = []
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'stolen')
    reached.append('loopback')
except OSError:
    pass
""",
    "warm_socket": """
import glob, socket
reached = []
for path in ['{warm_socket}', *glob.glob('/tmp/course-warm-*/*.sock'), *glob.glob('/run/user/*/course-warm-*/*.sock')]:
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        client.connect(path)
        reached.append(path)
    except OSError:
        pass
""",
    "outlives_grading": """
import subprocess
subprocess.Popen(['sleep', '4242'], start_new_session=True)
subprocess.Popen(['sh', '-c', '(setsid sleep 4243 &) ; true'])
reached = []
""",
    "fills_its_folder": """
import os
reached = []
written = 0
try:
    with open(os.path.join(os.environ.get('HOME', '.'), 'big'), 'wb') as big:
        for _ in range(4096):
            big.write(b'0' * (1 << 20))
            written += 1 << 20
    reached.append(written)
except OSError:
    pass
""",
}
# The cap is checked four times a second: these 400 live on for a second, as a fork bomb's would.
FORKS = "import subprocess, time\nsleepers = [subprocess.Popen(['sleep', '4244']) for _ in range(400)]\ntime.sleep(1)\n"
FORKS += "accuracy = 0.8125\n"
TAMPERS = "import otter.test_files.exception_test as et\net.ExceptionTestFile.run = lambda self, env: None\n"


def tree_digest(folder: Path, skip=()) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not relative.startswith(skip):
            digest.update(relative.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Listener:
    """A TCP server on loopback that counts what connects to it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()


def need_sealed_grading(*modules):
    """otter-grader, ``modules`` and a sandbox that runs here: without them skip, saying why (in CI: fail)."""
    missing = [name for name in ("otter", *modules) if importlib.util.find_spec(name) is None]
    why = f"{', '.join(missing)} not installed (.[exercises], .[dask], .[slurm])" if missing else sandbox.unavailable()
    if why:
        pytest.fail(f"CI must grade sealed: {why}") if IN_CI else pytest.skip(why)


def course_in(root, env):
    """`course ARGS...` in ``root`` with ``env``, as a user runs it; its output captured as text."""

    def course(*args, timeout=600):
        return subprocess.run(
            [sys.executable, "-m", TOOLS, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
        )

    return course


@pytest.fixture
def hostile_class(tmp_path):
    need_sealed_grading()
    root = tiny_course(tmp_path / "course", {"00_exercises": exercise_lesson()})
    home = tmp_path / "home"
    home.mkdir()
    runtime = Path(tempfile.mkdtemp(prefix="rt-"))  # short: a Unix socket's path has at most 107 bytes
    course = course_in(root, course_env(HOME=str(home), XDG_RUNTIME_DIR=str(runtime), **{SECRET: "hunter2"}))

    assert course("assign").returncode == 0
    warm = course("warm")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    (warm_socket,) = runtime.glob("course-warm-*/*.sock")
    listener = Listener()
    student = root / "student" / "lessons" / "00_exercises.ipynb"
    returned = tmp_path / "returned"
    values = {"secret": SECRET, "root": root, "home": home, "port": listener.port, "warm_socket": warm_socket}
    for name, attack in ATTACKS.items():
        answer = attack.format(**values) + KEPT_IF_BLOCKED
        answered(student, returned / f"{name}.ipynb", {"accuracy": answer, "total": "total = int(cm.sum())"})
    answered(student, returned / "tampers.ipynb", {"accuracy": TAMPERS + "accuracy = 0.0", "total": "total = 16"})
    answered(student, returned / "forks.ipynb", {"accuracy": FORKS, "total": "total = 16"})
    answered(student, returned / "honest.ipynb", {"accuracy": ACCURACY_SOLUTION, "total": "total = int(cm.sum())"})
    before = {
        "course": tree_digest(root, skip=("build/grades.csv", "build/feedback/")),
        "home": tree_digest(home),
        "submissions": tree_digest(returned),
    }
    try:
        graded = course("grade", returned, "-n", "2", "-q")
    finally:
        course("warm", "--stop")
        shutil.rmtree(runtime, ignore_errors=True)
    after = {
        "course": tree_digest(root, skip=("build/grades.csv", "build/feedback/")),
        "home": tree_digest(home),
        "submissions": tree_digest(returned),
    }
    with open(root / "build" / "grades.csv", newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    return graded, rows, before, after, listener


def test_a_hostile_class_is_graded_sealed_each_attack_costing_only_its_own_points(hostile_class):
    graded, rows, before, after, listener = hostile_class
    assert graded.returncode == 0, graded.stdout + graded.stderr
    points = {(row["submission"], row["question"]): float(row["points"]) for row in rows}
    for name in [*ATTACKS, "honest"]:
        assert points[(f"{name}.ipynb", "accuracy")] == 2, f"{name}: the attack reached something ({rows})"
        assert points[(f"{name}.ipynb", "total")] == 1, name
    assert listener.accepted == 0
    assert all(row["sealed"] == "yes" for row in rows)

    # One that replaced the test runner scores nothing and is flagged; no other is.
    tampered = [row for row in rows if row["submission"] == "tampers.ipynb"]
    assert tampered and all(float(row["points"]) == 0 and row["flagged"] == "yes" for row in tampered)
    assert "replaced what grades it (ExceptionTestFile.run)" in tampered[0]["reason"]
    assert not [row for row in rows if row["submission"] != "tampers.ipynb" and row["flagged"]]

    # One that starts more processes than the sandbox allows is killed, and loses only its own points.
    forks = [row for row in rows if row["submission"] == "forks.ipynb"]
    assert forks and all(float(row["points"]) == 0 for row in forks)
    assert "over the sandbox's 256: killed" in forks[0]["reason"], forks

    # The course, the grader's HOME and the submissions are byte-identical after.
    assert before == after

    # Nothing a submission started outlives grading.
    leftovers = [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if (process.info["cmdline"] or [])[:2] in (["sleep", "4242"], ["sleep", "4243"], ["sleep", "4244"])
    ]
    assert leftovers == []


def test_without_a_sandbox_grading_refuses_unless_the_teacher_accepts_the_risk_by_name(tmp_path):
    if importlib.util.find_spec("otter") is None:
        pytest.skip("otter-grader is not installed (.[exercises])")
    root = tiny_course(tmp_path / "course", {"00_exercises": exercise_lesson()})
    no_bwrap = tmp_path / "bin"
    no_bwrap.mkdir()
    course = course_in(root, course_env(PATH=f"{no_bwrap}:{Path(sys.executable).parent}"))  # no bwrap on PATH

    assert course("assign").returncode == 0
    returned = tmp_path / "honest.ipynb"
    student = root / "student" / "lessons" / "00_exercises.ipynb"
    answered(student, returned, {"accuracy": ACCURACY_SOLUTION, "total": "total = int(cm.sum())"})
    refused = course("grade", returned)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "bubblewrap (`bwrap`) is not installed" in refused.stderr
    assert "--trust-submissions" in refused.stderr and not (root / "build" / "grades.csv").exists()
    trusted = course("grade", returned, "--trust-submissions", "-q")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    with open(root / "build" / "grades.csv", newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    assert {row["sealed"] for row in rows} == {"no"}
    assert "Graded unsealed" in (root / "build" / "feedback" / "honest.ipynb.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("engine", ["dask", "submitit-local"])
def test_a_class_spread_over_an_engine_is_graded_sealed_on_its_workers(tmp_path, engine):
    """The engines sweeps use, for real: Dask's LocalCluster and submitit's local executor; each submission is a
    `course grade` of its own on a worker, sealed there, its rows and feedback merged here."""
    need_sealed_grading({"dask": "distributed", "submitit-local": "submitit"}[engine])
    root = tiny_course(tmp_path / "course", {"00_exercises": exercise_lesson()})
    course = course_in(root, course_env(HOME=str(tmp_path)))

    assert course("assign").returncode == 0
    student = root / "student" / "lessons" / "00_exercises.ipynb"
    returned = tmp_path / "returned"
    answered(student, returned / "honest.ipynb", {"accuracy": ACCURACY_SOLUTION, "total": "total = int(cm.sum())"})
    answered(student, returned / "wrong.ipynb", {"accuracy": "accuracy = 0.5", "total": "total = 15"})
    answered(
        student,
        returned / "snoops.ipynb",
        {"accuracy": ATTACKS["proc_environ"].format(secret=SECRET, root=root) + KEPT_IF_BLOCKED, "total": "total = 16"},
    )
    graded = course("grade", returned, "--on", engine, "-n", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert f"on {engine}" in graded.stdout and "honest.ipynb: 3 / 3" in graded.stdout
    with open(root / "build" / "grades.csv", newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    points = {(row["submission"], row["question"]): float(row["points"]) for row in rows}
    assert points == {
        ("honest.ipynb", "accuracy"): 2,
        ("honest.ipynb", "total"): 1,
        ("snoops.ipynb", "accuracy"): 2,
        ("snoops.ipynb", "total"): 1,
        ("wrong.ipynb", "accuracy"): 1,  # 0.5 is a share: the public test passes, the hidden one fails
        ("wrong.ipynb", "total"): 0,
    }
    assert {row["sealed"] for row in rows} == {"yes"}
    assert sorted(path.name for path in (root / "build" / "feedback").iterdir()) == [
        "honest.ipynb.md",
        "snoops.ipynb.md",
        "wrong.ipynb.md",
    ]
    assert not list((root / "build").glob("grading-*")), "the workers' folders are removed"


def test_an_endless_loop_costs_seconds_that_follow_from_the_lessons_recorded_duration(tmp_path):
    """lesson-durations.json says the lesson takes 2 s: a cell may take 2x that but at least 30 s, so a
    submission stuck in a loop is stopped after 30 s (not the smoke test's 5 minutes) and its other question
    is still graded."""
    need_sealed_grading()
    from colab_course_tools.harness.limits import submission_limits

    assert submission_limits(2.0) == (120.0, 30.0) and submission_limits(100.0) == (400.0, 200.0)
    root = tiny_course(tmp_path / "course", {"00_exercises": exercise_lesson()})
    (root / "lesson-durations.json").write_text('{"00_exercises": 2.0}\n', encoding="utf-8")
    course = course_in(root, course_env(HOME=str(tmp_path)))
    assert course("assign").returncode == 0
    student = root / "student" / "lessons" / "00_exercises.ipynb"
    returned = answered(student, tmp_path / "loops.ipynb", {"accuracy": "while True: pass", "total": "total = 16"})
    started = time.monotonic()
    graded = course("grade", returned, "-q")
    seconds = time.monotonic() - started
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "loops.ipynb: 1 / 3" in graded.stdout  # the loop lost its own question only
    assert 30 <= seconds < 200, seconds  # stopped at the 30 s cell limit, not the smoke test's 300 s
