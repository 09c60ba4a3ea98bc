"""The lesson harness on tiny notebooks written here: real kernels, real papermill, real processes.

Each notebook exercises one way a lesson can go wrong; kernel starts are the cost, so
several checks share one run where they can.
"""

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from colab_course_tools.errors import CourseError
from colab_course_tools.harness import commands, in_kernel, outcome, worker
from colab_course_tools.harness.job import LessonJob, LessonResult
from colab_course_tools.harness.kernel import ReadyKernelClient
from colab_course_tools.harness.prewarm import imports_to_prewarm
from colab_course_tools.harness.processes import alive
from colab_course_tools.harness.runner import execute_lesson, run_lessons
from colab_course_tools.lessons import resolve_lessons
from colab_course_tools.testing import course_cli as run_course_cli
from colab_course_tools.testing import lesson_notebook, tiny_course, warm_process_for, write_notebook


@pytest.fixture(params=["cold", "warm"])
def execute(request, monkeypatch):
    """``execute_lesson``, with the lesson's kernel started anew (cold) and forked from a warm process for
    its folder (warm): every test that takes it holds both ways."""
    if request.param == "cold":
        yield execute_lesson
        return
    runtime = tempfile.mkdtemp(prefix="xdg-")  # short: a Unix socket's path must be
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)

    def forked(lesson, output, parameters=None, **options):
        with warm_process_for(lesson, options.get("env")) as forks:
            result = execute_lesson(lesson, output, parameters, **options)
        assert result.warm_start is forks
        return result

    yield forked
    shutil.rmtree(runtime, ignore_errors=True)


def test_lesson_runs_in_its_folder_on_this_interpreter_with_parameters(tmp_path, monkeypatch, execute):
    # No kernelspec may come from the user's Jupyter setup: point Jupyter at empty folders.
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "no-jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "no-jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    lesson = write_notebook(
        tmp_path / "lessons" / "00_ok.ipynb",
        ("md", "# A lesson"),
        "import json, os, sys\nimport torch\n"
        "record = dict(cwd=os.getcwd(), executable=sys.executable, smoke=smoke, epochs=epochs,\n"
        "              mark=os.environ.get('COURSE_TEST_MARK'), total=float(torch.ones(2).sum() * epochs),\n"
        "              autoreload=os.environ.get('COURSE_AUTORELOAD'), frozen=__import__('gc').get_freeze_count())\n"
        "open('record.json', 'w').write(json.dumps(record))\nprint('trained')",
        parameters="smoke = False\nepochs = 3",
    )
    output = tmp_path / "build" / "executed" / "00_ok.ipynb"

    result = execute(lesson, output, {"smoke": True, "epochs": 5}, cell_timeout=120, env={"COURSE_TEST_MARK": "x"})

    assert result.status == "passed", result.describe()
    record = json.loads((lesson.parent / "record.json").read_text())
    assert Path(record["cwd"]) == lesson.parent
    assert Path(record["executable"]) == Path(sys.executable)
    assert (record["smoke"], record["epochs"], record["mark"], record["total"]) == (True, 5, "x", 10.0)
    # A batch run: no autoreload, and the warm-up's imports (torch here) are frozen out of the GC's walks.
    assert record["autoreload"] == "0"
    assert record["frozen"] > 100_000
    # The probe ran inside the kernel: torch was imported, CUDA never used.
    assert (result.device, result.gpu_name, result.peak_gpu_memory_mb) == ("cpu", None, None)
    assert result.failed_cell is None and result.error == ""
    executed = json.loads(output.read_text())
    tags = [cell["metadata"].get("tags", []) for cell in executed["cells"]]
    assert ["injected-parameters"] in tags
    assert "trained" in json.dumps(executed["cells"][-1]["outputs"])
    assert result.executed_notebook == output
    assert not list((tmp_path / "ipython").rglob("history.sqlite"))  # a batch run adds nothing to IPython's history


def test_failing_cell_is_reported_with_its_source_and_error(tmp_path, execute):
    lesson = write_notebook(
        tmp_path / "01_fails.ipynb",
        "a = 1",
        ("md", "Now divide."),
        "b = a / 0",
        "print('never printed')",
        parameters="smoke = False",
    )
    result = execute(lesson, tmp_path / "out" / "01_fails.ipynb", {"smoke": True}, cell_timeout=60)

    assert result.status == "failed"
    assert result.failed_cell == 4  # counted from 1 in the lesson as written, not after parameter injection
    assert result.failed_source == "b = a / 0"
    assert result.error == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in result.traceback and "\x1b[" not in result.traceback
    text = result.describe()
    assert "01_fails failed in cell 4: ZeroDivisionError" in text
    assert "    b = a / 0" in text and '"cell_type"' not in text
    last = json.loads((tmp_path / "out" / "01_fails.ipynb").read_text())["cells"][-1]
    assert ("".join(last["source"]), last["outputs"], last["execution_count"]) == ("print('never printed')", [], None)


def test_hung_cell_is_interrupted_at_the_cell_timeout(tmp_path, execute):
    lesson = write_notebook(tmp_path / "02_hangs.ipynb", "x = 1", "while True:\n    pass")
    started = time.monotonic()
    result = execute(lesson, tmp_path / "out.ipynb", {}, cell_timeout=2)

    assert result.status == "timed out"
    assert result.failed_cell == 2 and result.failed_source == "while True:\n    pass"
    assert result.error == "cell exceeded the 2 s cell timeout"
    assert "KeyboardInterrupt" in result.traceback  # interrupted: the traceback shows where it hung
    assert time.monotonic() - started < 20


def test_lesson_timeout_stops_a_lesson_of_many_short_cells(tmp_path, execute):
    lesson = write_notebook(tmp_path / "03_slow.ipynb", "import time", *["time.sleep(0.5)"] * 12)
    result = execute(lesson, tmp_path / "out.ipynb", {}, timeout=2, cell_timeout=60)

    assert result.status == "timed out"
    assert result.error == "lesson exceeded its 2 s timeout"
    assert 2 <= result.failed_cell <= 7
    assert result.seconds < 10


def test_kernel_client_is_ready_when_the_kernel_answers_and_says_when_it_died(tmp_path):
    lesson = write_notebook(tmp_path / "05_ready.ipynb", "x = 1")
    run = worker.LessonRun(LessonJob(lesson, tmp_path / "out.ipynb", cell_timeout=60))
    run.start_kernel()

    async def ready_then_run():
        client = run.kernel.manager.client()  # what nbclient gets
        assert isinstance(client, ReadyKernelClient)
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive("print('seen')", timeout=30, output_hook=outputs.append)
            return reply["content"]["status"]
        finally:
            client.stop_channels()

    outputs = []
    try:
        # Nothing published after readiness may be lost: the first output reaches the client.
        assert asyncio.run(ready_then_run()) == "ok"
        assert [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"] == ["seen\n"]
        run.kernel.process.kill()
        run.kernel.process.wait()
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="the kernel died before it answered"):
            asyncio.run(ready_then_run())
        assert time.monotonic() - started < 10
    finally:
        run.kernel.process.kill()
        run.kernel.process.wait()
        run.stop()


def test_kernel_that_kills_itself_is_a_failure_not_a_hang(tmp_path, execute):
    lesson = write_notebook(tmp_path / "04_dies.ipynb", "import os, signal", "os.kill(os.getpid(), signal.SIGKILL)")
    result = execute(lesson, tmp_path / "out.ipynb", {}, cell_timeout=120)

    assert result.status == "failed"
    assert result.error == "the kernel died (killed by SIGKILL)"
    assert result.failed_cell == 2
    assert result.seconds < 30


def test_nothing_the_kernel_started_survives_even_when_it_ignores_sigint(tmp_path, execute):
    lesson = write_notebook(
        tmp_path / "05_spawns.ipynb",
        "import json, os, subprocess, sys\n"
        "from torch.utils.data import DataLoader\n"
        "detached = subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
        "# a grandchild whose parent exits at once: an orphan in a session of its own\n"
        "orphan = subprocess.run([sys.executable, '-c', 'import subprocess; "
        'print(subprocess.Popen(["sleep", "600"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)\'],\n'
        "                        capture_output=True, text=True, check=True).stdout\n"
        "batches = iter(DataLoader(list(range(64)), batch_size=4, num_workers=2, persistent_workers=True))\n"
        "next(batches)\n"
        "pids = dict(kernel=os.getpid(), detached=detached.pid, orphan=int(orphan),\n"
        "            loader_workers=[worker.pid for worker in batches._workers])\n"
        "open('pids.json', 'w').write(json.dumps(pids))",
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)",
    )
    result = execute(lesson, tmp_path / "out.ipynb", {}, cell_timeout=6)

    assert result.status == "timed out", result.describe()
    assert result.failed_cell == 2
    pids = json.loads((tmp_path / "pids.json").read_text())
    everyone = [pids["kernel"], pids["detached"], pids["orphan"], *pids["loader_workers"]]
    assert len(pids["loader_workers"]) == 2
    assert [pid for pid in everyone if alive(pid)] == []


def test_parallel_lessons_failing_magic_and_shell_command_and_gpu_probe(tmp_path):
    fake_cuda = (
        "import sys, types\n"
        "torch = types.ModuleType('torch')\n"
        "torch.cuda = types.SimpleNamespace(is_initialized=lambda: True, current_device=lambda: 0,\n"
        "    get_device_name=lambda index: 'Fake GPU 80GB', max_memory_allocated=lambda index: 3 * 2**20)\n"
        "sys.modules['torch'] = torch\n"
        "import os\nopen('threads.txt', 'w').write(os.environ.get('OMP_NUM_THREADS', 'unset'))"
    )
    notebooks = {
        "magic": write_notebook(tmp_path / "magic.ipynb", "x = 1", "%run no_such_script.py"),
        "shell": write_notebook(tmp_path / "shell.ipynb", "!echo fine", "!exit 3"),
        "missing": write_notebook(tmp_path / "missing.ipynb", "import no_such_module_for_course_tests"),
        "fake_cuda": write_notebook(tmp_path / "fake_cuda.ipynb", fake_cuda),
    }
    jobs = [LessonJob(path, tmp_path / "out" / path.name, cell_timeout=60) for path in notebooks.values()]
    seen = []

    results = dict(zip(notebooks, run_lessons(jobs, workers=2, on_result=lambda r: seen.append(r.lesson)), strict=True))

    assert sorted(seen) == sorted(notebooks)
    assert [r.lesson for r in results.values()] == list(notebooks)  # job order, whatever finished first
    assert (results["magic"].status, results["magic"].failed_cell) == ("failed", 2)
    assert results["magic"].failed_source == "%run no_such_script.py"
    assert (results["shell"].status, results["shell"].failed_cell) == ("failed", 2)
    assert results["shell"].error == "CommandFailed: `exit 3` exited with status 3"
    assert results["missing"].error == "ModuleNotFoundError: No module named 'no_such_module_for_course_tests'"
    gpu = results["fake_cuda"]
    assert (gpu.status, gpu.device, gpu.gpu_name, gpu.peak_gpu_memory_mb) == ("passed", "cuda", "Fake GPU 80GB", 3.0)
    # Two lessons at once share the cores instead of each starting a thread per core.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, os.cpu_count() // 2))
    assert (tmp_path / "threads.txt").read_text() == threads
    # --gpu accepts the CUDA run and fails a run that stayed on the CPU
    assert commands.check_gpu_use(gpu).status == "passed"
    cpu_run = LessonResult("00_ok", "passed", device="cpu")
    assert commands.check_gpu_use(cpu_run).status == "failed"
    assert cpu_run.error.startswith("ran on cpu, not on CUDA (--gpu)")


def test_probe_never_initialises_cuda(capsys):
    """The probe only reads what the lesson did: with CUDA untouched it calls nothing else on torch.cuda."""

    class Untouched:
        def is_initialized(self):
            return False

        def __getattr__(self, name):
            raise AssertionError(f"the probe called torch.cuda.{name}")

    fake = type(sys)("torch")
    fake.cuda = Untouched()
    saved = sys.modules.get("torch")
    sys.modules["torch"] = fake
    try:
        in_kernel.probe()
    finally:
        if saved is None:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved
    assert json.loads(capsys.readouterr().out) == {"device": "cpu", "gpu_name": None, "peak_gpu_memory_mb": None}


def code(source, *tags):
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)}}


def test_prewarming_takes_the_imports_a_lesson_makes_before_it_could_change_them():
    notebook = {
        "cells": [
            code("import os, sys\nsys.path.insert(0, 'src')\nimport course_pkg as course", "setup"),  # known: taken
            code("smoke = False", "parameters"),
            code("import numpy as np\nfrom fastai.vision.all import *\nfrom . import local\nif True:\n    import json"),
            {"cell_type": "markdown", "source": "import markdown_is_not_code"},
            code("import never_run_module", "skip-execution"),
            code("x = np.zeros(3)\nimport sklearn.datasets"),
            code("os.environ['OMP_NUM_THREADS'] = '1'\nimport torch"),  # torch would see another environment
            code("import too_late"),
        ]
    }
    assert imports_to_prewarm(notebook) == [
        "os", "sys", "course_pkg", "numpy", "fastai.vision.all", "sklearn.datasets",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "cell",
    [
        "!pip install x\nimport x",
        "%env OMP_NUM_THREADS=1\nimport torch",
        "%%bash\necho hi",
        "os.chdir('/tmp')\nimport x",
        "sys.modules['x'] = None\nimport x",
        "importlib.reload(m)\nimport x",
        "from os import environ\nenviron['A'] = '1'\nimport x",
        "y = !ls\nimport x",
        "subprocess.run(['pip', 'install', 'x'])\nimport x",
    ],
)
def test_prewarming_stops_where_the_import_environment_may_change(cell):
    notebook = {"cells": [code("import first"), code(cell), code("import later")]}
    assert "later" not in imports_to_prewarm(notebook) and "x" not in imports_to_prewarm(notebook)
    assert imports_to_prewarm(notebook)[0] == "first"


def test_short_error_is_one_line_and_bounded():
    assert outcome.one_line("AssertionError", "\x1b[31mfirst\x1b[0m\nsecond") == "AssertionError: first"
    assert (
        outcome.one_line("ValueError", "\n\nthe message after blank lines")
        == "ValueError: the message after blank lines"
    )
    assert len(outcome.one_line("ValueError", "x" * 1000)) == 300


LESSONS = {
    "00_reads_src": lesson_notebook(
        "import sys\nsys.path.insert(0, '../src')\nimport helper\nprint('helper', helper.VALUE, 'epochs', epochs)",
        parameters="smoke = False\nepochs = 3",
    ),
    "01_passes": lesson_notebook("print('smoke' if smoke else 'full')", parameters="smoke = False"),
    "02_fails": lesson_notebook("x = 1", "assert not smoke, 'broken in smoke runs'", parameters="smoke = False"),
}


@pytest.fixture
def course(tmp_path):
    """A course repo with three small lessons: one reads src/, one passes, one fails in smoke runs."""
    return tiny_course(tmp_path / "course", LESSONS)


def _report(root: Path) -> dict:
    data = json.loads((root / "build" / "report.json").read_text())
    return {lesson["lesson"]: lesson for lesson in data["lessons"]}


# The tests of one `course test` scenario share its runs: one worker runs them all, so they run once.
SCENARIO = pytest.mark.xdist_group("course-test-scenario")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`course test` run after run on one course, changing things in between; every step's outcome kept."""
    course = tiny_course(tmp_path_factory.mktemp("scenario") / "course", LESSONS)
    executed = course / "build" / "executed" / "00_reads_src.ipynb"
    seen = SimpleNamespace(course=course)
    seen.first = run_course_cli("test", "--smoke", "-n", "2", cwd=course)
    seen.first_report = _report(course)
    seen.first_tools = json.loads((course / "build" / "report.json").read_text())["tools"]
    seen.first_markdown = (course / "build" / "report.md").read_text()
    seen.second = run_course_cli("test", "--smoke", cwd=course)
    seen.second_report = _report(course)
    started = time.monotonic()
    seen.cached = run_course_cli("test", "--smoke", "00", "01_passes", cwd=course)
    seen.cached_seconds = time.monotonic() - started
    seen.subset_report = json.loads((course / "build" / "report.json").read_text())
    seen.subset_markdown = (course / "build" / "report.md").read_text()
    (course / "src" / "helper.py").write_text("VALUE = 2\n")
    seen.src_edited = run_course_cli("test", "--smoke", "00", "01", cwd=course)
    seen.src_edited_output = executed.read_text()
    seen.with_epochs = run_course_cli("test", "--smoke", "00", "01", "-p", "epochs", "5", cwd=course)
    seen.with_epochs_output = executed.read_text()
    return seen


@SCENARIO
def test_course_test_runs_every_lesson_and_reports_each(runs):
    assert runs.first.returncode == 1, runs.first.stderr
    assert "PASS     00_reads_src" in runs.first.stdout and "PASS     01_passes" in runs.first.stdout
    assert "FAIL     02_fails" in runs.first.stdout
    assert "cell 3: AssertionError: broken in smoke runs" in runs.first.stdout
    assert "3 lessons: 2 passed, 1 failed" in runs.first.stdout
    report = runs.first_report
    assert [report[name]["status"] for name in sorted(report)] == ["passed", "passed", "failed"]
    failed = report["02_fails"]
    assert (failed["failed_cell"], failed["failed_source"]) == (3, "assert not smoke, 'broken in smoke runs'")
    assert all(lesson["device"] == "cpu" and lesson["peak_gpu_memory_mb"] is None for lesson in report.values())
    assert all(Path(lesson["executed_notebook"]).is_file() for lesson in report.values())


@SCENARIO
def test_markdown_report_shows_the_failing_cell(runs):
    rows = [line.split("|")[1:3] for line in runs.first_markdown.splitlines() if line.startswith("| 0")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["00_reads_src", "passed"],
        ["01_passes", "passed"],
        ["02_fails", "failed"],
    ]
    assert "## 02_fails: failed in cell 3" in runs.first_markdown
    from colab_course_tools import __version__

    assert runs.first_tools == __version__  # report.json and report.md say which tools ran
    assert f"colab-course-tools {__version__})" in runs.first_markdown
    assert "```python\nassert not smoke, 'broken in smoke runs'\n```" in runs.first_markdown


@SCENARIO
def test_unchanged_lessons_that_passed_are_not_run_again(runs):
    assert runs.second.returncode == 1
    assert "CACHED   00_reads_src" in runs.second.stdout and "CACHED   01_passes" in runs.second.stdout
    assert "FAIL     02_fails" in runs.second.stdout, "a failure is never cached"
    assert runs.cached.returncode == 0 and "2 lessons: 2 cached" in runs.cached.stdout
    assert runs.cached_seconds < 15


@SCENARIO
def test_a_run_of_some_lessons_keeps_the_other_rows_with_when_they_ran(runs):
    rows = {row["lesson"]: row for row in runs.subset_report["lessons"]}
    assert list(rows) == ["00_reads_src", "01_passes", "02_fails"]
    assert [row["this_run"] for row in rows.values()] == [True, True, False]
    assert rows["02_fails"]["status"] == "failed"
    assert rows["02_fails"]["finished_at"] == runs.second_report["02_fails"]["finished_at"]
    assert runs.subset_report["summary"] == "3 lessons: 2 cached, 1 failed (1 row from earlier runs, not run this time)"
    assert "| failed (earlier run) " in runs.subset_markdown
    assert runs.cached.returncode == 0, "the exit status is this run's"
    assert "course test: 2 lessons, 0 to run on 1 worker (smoke)" in runs.cached.stdout


@SCENARIO
def test_a_change_in_src_reruns_every_lesson(runs):
    assert runs.src_edited.returncode == 0 and "2 lessons: 2 passed" in runs.src_edited.stdout
    assert "helper 2" in runs.src_edited_output


@SCENARIO
def test_a_parameter_reruns_only_the_lessons_that_declare_it(runs):
    assert runs.with_epochs.returncode == 0
    assert "PASS     00_reads_src" in runs.with_epochs.stdout and "CACHED   01_passes" in runs.with_epochs.stdout
    assert "epochs 5" in runs.with_epochs_output


def test_course_test_refuses_bad_requests_in_one_line(course, course_cli):
    unknown = course_cli("test", "7", cwd=course)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == (
        "course test: error: '7' is not a lesson: give a number, name or file of one of the lessons: "
        "00_reads_src, 01_passes, 02_fails"
    )
    shard = course_cli("test", "--shard", "3/2", cwd=course)
    assert shard.returncode == 1 and shard.stderr.strip().endswith("write I/N with 1 <= I <= N, e.g. --shard 1/2")
    param = course_cli("test", "01", "-p", "epochs", "5", cwd=course)
    assert param.returncode == 1 and "none of the chosen lessons has a parameter 'epochs'" in param.stderr
    assert len(param.stderr.strip().splitlines()) == 1
    assert not (course / "build" / "report.json").exists()


def test_gpu_flag_fails_early_without_cuda(course, course_cli):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the refusal is for machines without it")
    result = course_cli("test", "--gpu", cwd=course)
    assert result.returncode == 1
    assert result.stderr.startswith("course test: error: --gpu: CUDA is not available")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (course / "build").exists()


def test_lessons_resolve_by_number_name_or_file(course):
    lessons = course / "lessons"
    expected = [lessons / "01_passes.ipynb"]
    for name in ("01", "01_passes", "01_passes.ipynb", "lessons/01_passes.ipynb", str(lessons / "01_passes.ipynb")):
        assert resolve_lessons(course, [name]) == expected
    assert [p.stem for p in resolve_lessons(course, [])] == ["00_reads_src", "01_passes", "02_fails"]
    assert resolve_lessons(course, ["02", "02_fails"]) == [lessons / "02_fails.ipynb"]
    with pytest.raises(CourseError, match="'missing' is not a lesson: .*00_reads_src, 01_passes, 02_fails"):
        resolve_lessons(course, ["missing"])


def test_shards_split_lessons_for_parallel_ci_jobs(course):
    """Never timed: round-robin. Timed: longest first onto the least loaded shard (pytest-split's
    least_duration), the committed durations file before the last report, untimed ones dealt after."""
    from colab_course_tools.harness import shards

    lessons = resolve_lessons(course, [])

    def split(count):
        return [[p.stem for p in shards.select_shard(course, lessons, f"{i}/{count}")] for i in range(1, count + 1)]

    assert split(2) == [["00_reads_src", "02_fails"], ["01_passes"]]
    (course / "build").mkdir(exist_ok=True)
    report = {"lessons": [{"lesson": "00_reads_src", "status": "passed", "seconds": 50.0}]}
    (course / "build" / "report.json").write_text(json.dumps(report))
    assert split(2) == [["00_reads_src", "01_passes"], ["02_fails"]]  # the untimed two dealt round-robin
    (course / shards.DURATIONS_FILE).write_text(json.dumps({"00_reads_src": 1.0, "01_passes": 30.0, "02_fails": 20.0}))
    assert split(2) == [["01_passes"], ["00_reads_src", "02_fails"]]
    assert split(3) == [["01_passes"], ["02_fails"], ["00_reads_src"]]
    plan = shards.plan(course, lessons, 2)
    assert plan == "shard 1/2: 30.0 s expected: 01_passes\nshard 2/2: 21.0 s expected: 00_reads_src, 02_fails"
    with pytest.raises(CourseError, match="--shard 0/2"):
        shards.select_shard(course, lessons, "0/2")


MEMORY_HOG = """\
import subprocess, sys, time
block = bytearray(300 * 2**20)
block[::4096] = b"\\x01" * len(range(0, len(block), 4096))  # touch every page: resident, not just reserved
child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(200 * 2**20); "
                          "b[::4096] = b'\\\\x01' * len(range(0, len(b), 4096)); time.sleep(2.5)"])
child.wait()
"""


def test_peak_ram_of_kernel_and_children_is_reported_and_held_against_the_budget(tmp_path, course_cli):
    course = tiny_course(
        tmp_path / "course", {"00_big": lesson_notebook(MEMORY_HOG, parameters="smoke = False")}, memory_budget_gb=0.4
    )
    result = course_cli("test", "--smoke", cwd=course)
    assert result.returncode == 0, result.stdout + result.stderr  # over budget is a warning, not a failure
    peak = _report(course)["00_big"]["peak_ram_mb"]
    assert 480 < peak < 2000, peak  # 300 MB in the kernel + 200 MB in its child, both counted
    assert "peak RAM" in result.stdout.splitlines()[1]
    (warning,) = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("warning:")]
    assert (
        warning.startswith("warning: peak RAM 0.")
        and "is over the 0.4 GB budget (memory_budget_gb in [tool.course]" in warning
    )
    markdown = (course / "build" / "report.md").read_text()
    assert "## Warnings" in markdown and "- 00_big: peak RAM" in markdown


def test_a_flood_of_output_is_capped_and_the_lesson_timeout_holds(tmp_path, course_cli):
    course = tiny_course(tmp_path / "course", {"00_flood": lesson_notebook("while True:\n    print('x' * 100)")})
    started = time.monotonic()
    result = course_cli("test", "--timeout", "4", "--cell-timeout", "100", cwd=course)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    flood = _report(course)["00_flood"]
    assert flood["status"] == "timed out" and flood["error"] == "lesson exceeded its 4 s timeout"
    assert flood["seconds"] < 4 + 5, "stopped within a few seconds of the limit, kernel start-up counted"
    assert elapsed < 30
    executed = (course / "build" / "executed" / "00_flood.ipynb").read_text()
    assert len(executed) < 500_000, "the executed notebook holds the head and tail of the output, not all of it"
    assert "characters of output dropped here by course test" in executed


def test_the_cache_sees_files_beside_the_lesson_and_the_timeouts(tmp_path, course_cli):
    course = tiny_course(tmp_path / "course", {"00_reads": lesson_notebook("print(open('words.txt').read())")})
    (course / "lessons" / "words.txt").write_text("first\n")
    assert "PASS     00_reads" in course_cli("test", cwd=course).stdout
    assert "CACHED   00_reads" in course_cli("test", cwd=course).stdout
    (course / "lessons" / "words.txt").write_text("second\n")
    assert "PASS     00_reads" in course_cli("test", cwd=course).stdout
    assert "PASS     00_reads" in course_cli("test", "--cell-timeout", "77", cwd=course).stdout


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "0", "soon"])
def test_a_bad_time_limit_is_refused_in_one_line(course, course_cli, value):
    result = course_cli("test", "--timeout", value, cwd=course)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("course test: error: argument --timeout: ") and "(see `course test --help`)" in line
    assert not (course / "build").exists()


def test_kernel_folders_left_by_a_killed_run_are_removed(course, course_cli):
    import tempfile

    stale = Path(tempfile.gettempdir()) / "course-kernel-999999999-stale"  # no such pid
    stale.mkdir(exist_ok=True)
    course_cli("test", "01", cwd=course)
    assert not stale.exists()


def test_one_lesson_is_one_lesson(course, course_cli):
    done = course_cli("test", "--smoke", "1", cwd=course)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "course test: 1 lesson, 1 to run on 1 worker (smoke)" in done.stdout
    assert "1 lesson: 1 passed" in done.stdout


def test_nothing_to_run_is_an_error_not_a_green_run(tmp_path, course_cli):
    empty = tiny_course(tmp_path / "empty")
    done = course_cli("test", "--smoke", cwd=empty)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'course test: error: no lessons to run: lessons holds none; add one with `course new "Title"`'
    )
    assert not (empty / "build").exists()
    assert (
        course_cli(
            "test", "--shard", "2/2", cwd=tiny_course(tmp_path / "one", {"01_x": LESSONS["01_passes"]})
        ).returncode
        == 1
    )


@pytest.mark.parametrize(
    "command", [["test"], ["check"], ["sync"], ["run", "01"], ["sweep", "01", "-p", "x", "1,2"], ["runs"]]
)
def test_a_project_that_is_no_course_is_refused_and_left_alone(tmp_path, course_cli, command):
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    done = course_cli(*command, cwd=other)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "has no [tool.course] table" in line and "run this inside a course, or set COURSE_ROOT" in line
    assert "restore the table with `git checkout -- pyproject.toml`" in line
    assert "the keys title, package, github_user, github_repo, branch, drive_folder" in line
    assert [path.name for path in other.iterdir()] == ["pyproject.toml"], "nothing written there"
