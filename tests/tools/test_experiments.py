"""`course run`, `course sweep`, `course runs` and `log_metrics`, on tiny lessons in a copy of the repo.

The lessons are written by the tests into a temporary course repo (its pyproject.toml and
.gitignore copied from this one), so they run in seconds and exercise real papermill kernels.
"""

import csv
import importlib
import json
import os
import signal
import subprocess
import sys

import nbformat
import psutil
import pytest

from colab_course_tools import metrics_file as metrics
from colab_course_tools import overrides
from colab_course_tools.errors import CourseError
from colab_course_tools.testing import git, lesson_notebook, tiny_course, wait_for
from course_under_test import PACKAGE, TOOLS

PROBE_PARAMETERS = """\
smoke = True
epochs = 2
batch_size = 8
seed = 0
device = "auto"
lr = 0.01
label = "plain"
fail_if = ""
"""

# Metrics are a known function of the parameters, so the test knows which sweep row is best.
PROBE_CODE = f"""\
import {PACKAGE} as course
if fail_if and eval(fail_if):
    raise RuntimeError("failing on purpose: " + fail_if)
course.metrics.log_metrics(
    accuracy=1 - abs(lr - 0.03) - batch_size / 1000, headline="accuracy",
    lr_seen=lr, batch_size_seen=batch_size, label_seen=label, smoke_seen=smoke,
)
"""

TRAIN_PARAMETERS = """\
smoke = True
epochs = 6
batch_size = 4
seed = 0
device = "auto"
epoch_seconds = 0.1
"""

# A plain torch loop with a checkpoint per epoch under the run's COURSE_CHECKPOINTS:
# saved before the epoch's metrics are logged, so a logged epoch is never trained again.
TRAIN_CODE = f"""\
import os, time
import torch
import {PACKAGE} as course
from {PACKAGE}.config import course_paths

checkpoint = course_paths().checkpoints / "tiny" / "last.pt"
torch.manual_seed(seed)
model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
first = 0
if checkpoint.exists():
    state = torch.load(checkpoint)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    first = state["epoch"] + 1
x, y = torch.randn(batch_size, 2), torch.randn(batch_size, 1)
for epoch in range(first, epochs):
    time.sleep(epoch_seconds)
    loss = torch.nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    partial = checkpoint.with_suffix(".tmp")
    torch.save(dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch), partial)
    os.replace(partial, checkpoint)
    course.metrics.log_metrics(epoch=epoch, loss=loss, first_epoch=first, headline="loss")
"""


WAIT_PARAMETERS = """\
smoke = True
epochs = 30
batch_size = 4
seed = 0
device = "auto"
epoch_seconds = 1.0
"""

# For the interrupt tests: slow enough to interrupt, and no torch to import.
WAIT_CODE = f"""\
import time
import {PACKAGE} as course
for epoch in range(epochs):
    time.sleep(epoch_seconds)
    course.metrics.log_metrics(epoch=epoch, loss=1 / (epoch + 1), headline="loss")
"""


@pytest.fixture
def course_repo(tmp_path):
    """A course repo with tiny lessons: 01_probe (logs metrics from its parameters), 02_train, 03_wait."""
    return tiny_course(
        tmp_path / "course",
        {
            "01_probe": lesson_notebook(PROBE_CODE, parameters=PROBE_PARAMETERS),
            "02_train": lesson_notebook(TRAIN_CODE, parameters=TRAIN_PARAMETERS),
            "03_wait": lesson_notebook(WAIT_CODE, parameters=WAIT_PARAMETERS),
        },
    )


def _one_line_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def _read(path):
    return json.loads(path.read_text(encoding="utf-8"))


# ---- course run ----------------------------------------------------------------------------------


def test_run_passes_overrides_and_records_everything(course_repo, course_cli):
    git(course_repo, "init", "-q")
    git(course_repo, "add", ".")
    git(course_repo, "commit", "-q", "-m", "lessons")
    result = course_cli(
        "run",
        "01",
        "-p",
        "lr",
        "0.03",
        "-p",
        "label",
        "hello",
        "-p",
        "batch_size",
        "16",
        "--run-id",
        "try-1",
        cwd=course_repo,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = course_repo / "build" / "runs" / "01_probe" / "try-1"
    assert "01_probe passed" in result.stdout
    assert os.path.join("build", "runs", "01_probe", "try-1", "01_probe.ipynb") in result.stdout

    latest = metrics.read_metrics(run_dir)["latest"]
    assert latest["lr_seen"] == 0.03 and latest["batch_size_seen"] == 16
    assert latest["label_seen"] == "hello" and latest["smoke_seen"] is True
    assert metrics.headline(metrics.read_metrics(run_dir)) == ("accuracy", pytest.approx(0.984), False)

    params = _read(run_dir / "params.json")
    assert params == {
        "smoke": True,
        "epochs": 2,
        "batch_size": 16,
        "seed": 0,
        "device": "auto",
        "lr": 0.03,
        "label": "hello",
        "fail_if": "",
    }
    environment = _read(run_dir / "environment.json")
    head = subprocess.run(["git", "-C", str(course_repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert environment["git"] == {"commit": head.stdout.strip(), "dirty": False}  # build/ is ignored
    assert environment["device"] == "cpu" and environment["versions"]["torch"]
    from colab_course_tools import __version__

    assert environment["tools"] == __version__  # which tools ran the run
    info = _read(run_dir / "run.json")
    assert info["status"] == "passed" and info["attempts"] == 1 and info["seconds"] > 0

    executed = nbformat.read(run_dir / "01_probe.ipynb", as_version=4)
    injected = [cell for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    assert len(injected) == 1 and "lr = 0.03" in injected[0].source


def test_bad_input_gives_one_clear_line_and_no_run_directory(course_repo, course_cli):
    cases = [
        (["run", "01", "-p", "lrr", "0.1"], ["no parameter 'lrr'", "did you mean 'lr'", "smoke, epochs"]),
        (["run", "01", "-p", "epochs", "two"], ["-p epochs two", "epochs=2"]),
        (["run", "01", "-p", "epochs", "2.5"], ["epochs=2.5 does not fit"]),
        (["run", "01", "-p", "smoke", "0"], ["smoke=0 does not fit"]),
        (["run", "01", "-p", "lr", "0.1", "-p", "lr", "0.2"], ["given twice"]),
        (["run", "01", "--run-id", "../escape"], ["--run-id '../escape'"]),
        (["run", "99"], ["01_probe"]),
        (["sweep", "01", "-p", "lr", "0.1,abc"], ["-p lr abc"]),
        (["sweep", "01"], ["needs values"]),
        (["sweep", "01", "-p", "lr", "0.1", "-n", "0"], ["-n 0"]),
    ]
    for args, fragments in cases:
        _one_line_error(course_cli(*args, cwd=course_repo), *fragments)
    assert not (course_repo / "build").exists()


def test_python_api_checks_then_runs_from_a_notebook_process(course_repo, monkeypatch, capsys):
    """As called in a Colab cell: the package is importable through sys.path only, not PYTHONPATH."""
    from colab_course_tools import experiments

    monkeypatch.setenv("COURSE_ROOT", str(course_repo))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    with pytest.raises(CourseError, match="no parameter 'lrr'"):
        experiments.run("01", lrr=0.1)
    with pytest.raises(CourseError, match="does not fit"):
        experiments.sweep("01", epochs=[1, 2.5])
    with pytest.raises(CourseError, match="give a list"):
        experiments.sweep("01", lr=0.1)
    assert not (course_repo / "build").exists()
    assert experiments.runs() == []

    record = experiments.run("01", lr=0.02, label="api")
    assert record.status == "passed" and record.metrics["latest"]["label_seen"] == "api"
    table = experiments.sweep("01", lr=[0.03])
    [row] = csv.DictReader(table.with_suffix(".csv").open(encoding="utf-8"))
    assert (row["lr"], row["status"], row["best"], row["label_seen"]) == ("0.03", "passed", "best", "plain")
    assert [run.status for run in experiments.runs("01")] == ["passed", "passed"]
    assert "course run: 01_probe passed" in capsys.readouterr().out


# ---- course sweep and course runs ------------------------------------------------------------------


def test_sweep_tabulates_every_run_marks_the_best_and_survives_a_failure(course_repo, course_cli):
    result = course_cli(
        "sweep",
        "01_probe",
        "-p",
        "lr",
        "0.01,0.03",
        "-p",
        "batch_size",
        "8,16",
        "-p",
        "fail_if",
        "lr < 0.02 and batch_size == 16",
        "-n",
        "2",
        "--full",
        cwd=course_repo,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # one run failed on purpose
    assert "3 passed, 1 failed" in result.stdout
    lesson_runs = course_repo / "build" / "runs" / "01_probe"
    [table] = lesson_runs.glob("sweep-*.csv")
    sweep_id = table.stem
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert [row["run"] for row in rows] == [f"{sweep_id}-{k}" for k in (1, 2, 3, 4)]
    assert [(row["lr"], row["batch_size"]) for row in rows] == [
        ("0.01", "8"),
        ("0.01", "16"),
        ("0.03", "8"),
        ("0.03", "16"),
    ]
    assert [row["status"] for row in rows] == ["passed", "failed", "passed", "passed"]
    assert "failing on purpose" in rows[1]["error"]
    assert [row["best"] for row in rows] == ["", "", "best", ""]
    assert float(rows[2]["accuracy"]) == pytest.approx(0.992)
    assert all(row["smoke_seen"] == "False" for row in rows if row["status"] == "passed")  # --full
    markdown = table.with_suffix(".md").read_text(encoding="utf-8")
    assert "best = higher accuracy" in markdown
    assert sum(line.startswith(f"| {sweep_id}-") for line in markdown.splitlines()) == 4

    listing = course_cli("runs", "01", cwd=course_repo)
    assert listing.returncode == 0, listing.stderr
    lines = {line.split("|")[2].strip(): line for line in listing.stdout.splitlines() if f"{sweep_id}-" in line}
    assert sorted(lines) == [f"{sweep_id}-{k}" for k in (1, 2, 3, 4)]  # runs started together: any order
    assert "accuracy=0.992" in lines[f"{sweep_id}-3"] and "full lr=0.03 batch_size=8" in lines[f"{sweep_id}-3"]
    assert "failed" in lines[f"{sweep_id}-2"]

    exported = course_cli("runs", "01", "--csv", cwd=course_repo)
    assert exported.returncode == 0, exported.stderr
    runs = {row["run"]: row for row in csv.DictReader(exported.stdout.splitlines())}
    assert sorted(runs) == [f"{sweep_id}-{k}" for k in (1, 2, 3, 4)]
    third = runs[f"{sweep_id}-3"]
    assert (third["status"], third["param.lr"], third["param.batch_size"], third["param.smoke"]) == (
        "passed",
        "0.03",
        "8",
        "False",
    )
    assert float(third["metric.accuracy"]) == pytest.approx(0.992)
    assert runs[f"{sweep_id}-2"]["status"] == "failed" and runs[f"{sweep_id}-2"]["metric.accuracy"] == ""


# ---- resume ------------------------------------------------------------------------------------


def _processes_of(run_dir):
    """Processes (kernels, workers) whose environment points at this run."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("COURSE_RUN_DIR") == str(run_dir):
                found.append(process)
        except psutil.Error:
            pass
    return found


def test_killed_run_resumes_from_its_last_checkpoint(course_repo, course_cli, subprocess_env):
    run_dir = course_repo / "build" / "runs" / "02_train" / "long"
    epochs = 10  # the kill comes after epoch 1: the rest must outlast a slow poll on a busy machine
    command = [
        sys.executable,
        "-m",
        TOOLS,
        "run",
        "02",
        "-p",
        "epochs",
        str(epochs),
        "-p",
        "epoch_seconds",
        "0.4",
        "--run-id",
        "long",
    ]

    def start():
        return subprocess.Popen(
            command,
            cwd=course_repo,
            env=subprocess_env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    first = start()
    try:
        wait_for(lambda: (run_dir / "run.json").exists(), 60, "the run to start")
        _one_line_error(course_cli(*command[3:], cwd=course_repo), "run long of 02_train is being executed by another")
        logged = lambda: metrics.read_metrics(run_dir)["latest"].get("epoch", -1)  # noqa: E731
        wait_for(lambda: logged() >= 1 or first.poll() is not None, 120, "two epochs")
        assert first.poll() is None, first.stdout.read()
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    wait_for(lambda: not _processes_of(run_dir), 15, "the killed run's kernel to exit")
    done_before = [entry["epoch"] for entry in metrics.read_metrics(run_dir)["history"]]
    assert done_before and done_before[-1] < epochs - 1

    listing = course_cli("runs", cwd=course_repo)
    assert "interrupted" in listing.stdout and "long" in listing.stdout
    _one_line_error(
        course_cli("run", "02", "-p", "epochs", "7", "--run-id", "long", cwd=course_repo),
        "run long was started with other parameters",
        "-p epoch_seconds 0.4",
    )

    # `kill PID` (SIGTERM to the course run process alone) stops the second attempt cleanly.
    second = start()
    try:
        wait_for(lambda: logged() > done_before[-1] or second.poll() is not None, 120, "an epoch more")
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=60)
    finally:
        second.kill()
    assert second.returncode == 143 and "attempt 2, resuming" in output, output  # 128 + SIGTERM
    assert _read(run_dir / "run.json")["status"] == "interrupted"
    wait_for(lambda: not _processes_of(run_dir), 15, "the stopped run's kernel to exit")

    resumed = course_cli(*command[3:], cwd=course_repo)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "attempt 3, resuming" in resumed.stdout
    history = metrics.read_metrics(run_dir)["history"]
    assert [entry["epoch"] for entry in history] == list(range(epochs))  # no epoch trained twice, none lost
    firsts = sorted({entry["first_epoch"] for entry in history})  # where each attempt started
    assert len(firsts) == 3 and firsts[0] == 0 and firsts[1] == len(done_before)
    info = _read(run_dir / "run.json")
    assert info["status"] == "passed" and info["attempts"] == 3


def test_interrupted_sweep_stops_its_run_and_starts_no_more(course_repo, subprocess_env):
    """SIGINT is what Ctrl-C in a terminal and the stop button in a notebook send."""
    lesson_runs = course_repo / "build" / "runs" / "03_wait"
    sweep = subprocess.Popen(
        [sys.executable, "-m", TOOLS, "sweep", "03", "-p", "seed", "0,1"],
        cwd=course_repo,
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = lambda: [d for d in lesson_runs.glob("sweep-*-1") if metrics.read_metrics(d)["history"]]  # noqa: E731
        wait_for(lambda: started() or sweep.poll() is not None, 120, "the first run's first epoch")
        sweep.send_signal(signal.SIGINT)
        output, _ = sweep.communicate(timeout=60)
    finally:
        sweep.kill()
    assert sweep.returncode == 130, output
    [first] = started()
    assert _read(first / "run.json")["status"] == "interrupted"
    assert not list(lesson_runs.glob("sweep-*-2")), "a run started after the interrupt"
    wait_for(lambda: not _processes_of(first), 15, "the interrupted run's kernel to exit")
    [table] = lesson_runs.glob("sweep-*.csv")
    assert [row["status"] for row in csv.DictReader(table.open(encoding="utf-8"))] == ["interrupted"]


def test_stop_button_in_a_notebook_stops_the_run(course_repo, subprocess_env):
    """The stop button interrupts only the notebook's process: the run must still stop its lesson."""
    cell = 'from colab_course_tools import experiments\nexperiments.run("03", run_id="cell")\n'
    notebook = subprocess.Popen(
        [sys.executable, "-c", cell],
        cwd=course_repo,
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run_dir = course_repo / "build" / "runs" / "03_wait" / "cell"
    try:
        wait_for(lambda: metrics.read_metrics(run_dir)["history"] or notebook.poll() is not None, 120, "an epoch")
        notebook.send_signal(signal.SIGINT)
        output, _ = notebook.communicate(timeout=60)
    finally:
        notebook.kill()
    assert "Interrupted: stopped by SIGINT" in output  # a KeyboardInterrupt, saying what it stopped
    assert _read(run_dir / "run.json")["status"] == "interrupted"
    wait_for(lambda: not _processes_of(run_dir), 15, "the lesson's kernel to exit")


# ---- building blocks -------------------------------------------------------------------------------

# What a lesson logs (the course's `metrics.log_metrics`), as the tools read it back (`metrics_file`).
course_metrics = importlib.import_module(f"{PACKAGE}.metrics")


def test_log_metrics_merges_calls_converts_numbers_and_names_the_headline(tmp_path, monkeypatch):
    import numpy as np
    import torch

    monkeypatch.setenv("COURSE_RUN_DIR", str(tmp_path))
    course_metrics.log_metrics(epoch=0, valid_loss=np.float32(0.5), sizes=np.arange(2))
    path = course_metrics.log_metrics(epoch=1, valid_loss=torch.tensor(0.25), flag=np.bool_(True))
    assert path == tmp_path / "metrics.json"
    record = metrics.read_metrics(tmp_path)
    assert record["latest"] == {"epoch": 1, "valid_loss": 0.25, "sizes": [0, 1], "flag": True}
    assert [entry["epoch"] for entry in record["history"]] == [0, 1]
    assert metrics.headline(record) == ("valid_loss", 0.25, True)  # first non-counter name; a loss
    course_metrics.log_metrics(accuracy=0.9, headline="accuracy")
    assert metrics.headline(metrics.read_metrics(tmp_path)) == ("accuracy", 0.9, False)
    with pytest.raises(course_metrics.CourseError, match="metric 'model' has type object"):
        course_metrics.log_metrics(model=object())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "metrics.json", "tensorboard"]

    with (tmp_path / "metrics.csv").open(encoding="utf-8") as table:  # the history, for a spreadsheet
        rows = list(csv.DictReader(table))
    assert list(rows[0]) == ["epoch", "valid_loss", "flag", "accuracy"]  # lists (sizes) left out
    assert [(row["epoch"], row["valid_loss"], row["accuracy"]) for row in rows] == [
        ("0", "0.5", ""),
        ("1", "0.25", ""),
        ("", "", "0.9"),
    ]


def test_metrics_are_tensorboard_scalars_as_tensorboard_reads_them(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="TensorBoard is optional: pip install tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("COURSE_RUN_DIR", str(tmp_path))
    for epoch, loss in enumerate([0.9, 0.5, 0.3]):
        course_metrics.log_metrics(epoch=epoch, valid_loss=loss, note="text is not a scalar")
    course_metrics.log_metrics(accuracy=0.93)  # no counter: the call's number is its step
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["tensors"]) == ["accuracy", "valid_loss"]
    losses = [(event.step, float(event.tensor_proto.float_val[0])) for event in events.Tensors("valid_loss")]
    assert losses == [(0, pytest.approx(0.9)), (1, pytest.approx(0.5)), (2, pytest.approx(0.3))]
    assert [event.step for event in events.Tensors("accuracy")] == [3]


def test_log_metrics_outside_a_run_writes_under_build(course_repo, monkeypatch):
    monkeypatch.delenv("COURSE_RUN_DIR", raising=False)
    monkeypatch.setenv("COURSE_ROOT", str(course_repo))
    monkeypatch.setattr(course_metrics, "_session_file", None)
    first = course_metrics.log_metrics(accuracy=0.5)
    second = course_metrics.log_metrics(accuracy=0.6)
    assert first == second and first.parent == course_repo / "build" / "metrics"
    assert metrics.read_metrics(first)["latest"] == {"accuracy": 0.6}


@pytest.mark.parametrize(
    "name, lower_is_better",
    [
        ("valid_loss", True),
        ("trainloss", True),
        ("error_rate", True),
        ("epoch_time", True),
        ("accuracy", False),
        ("cpu_gflops", False),
        ("f1", False),
        ("terrain_score", False),
    ],
)
def test_headline_direction_is_guessed_from_the_name(name, lower_is_better):
    assert metrics.headline({"headline": name, "latest": {name: 1.0}}) == (name, 1.0, lower_is_better)
    assert metrics.headline({"headline": name, "lower_is_better": not lower_is_better})[2] is not lower_is_better


@pytest.mark.parametrize(
    "text, default, expected",
    [
        ("3e-3", 0.001, 0.003),
        ("2", 0.1, 2),
        ("cuda", "auto", "cuda"),
        ("1234", "", "1234"),  # text where the default is text
        ("'abc'", None, "abc"),
        ("e3b0c442", None, "e3b0c442"),  # a bare word where the default is None: a hash, a path, a URL
        ("None", "auto", None),
        ("[32, 64]", [16], [32, 64]),
        ("False", True, False),
    ],
)
def test_parse_value(text, default, expected):
    assert overrides.parse_value("name", text, default) == expected


@pytest.mark.parametrize(
    "text, default, message",
    [
        ("two words", None, "quote it"),
        ("[1, 2", None, "quote it"),
        ("[1, 2]", 3, "does not fit"),
        ("(1, 2)", [1], "lists/dicts"),
    ],
)
def test_parse_value_rejects(text, default, message):
    with pytest.raises(CourseError, match=message):
        overrides.parse_value("name", text, default)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1e-3,3e-3", ["1e-3", "3e-3"]),
        ("[1, 2],[3]", ["[1, 2]", "[3]"]),
        ("'a,b',c", ["'a,b'", "c"]),
        ("https://x.org/a.zip,https://x.org/b.zip", ["https://x.org/a.zip", "https://x.org/b.zip"]),
    ],
)
def test_split_choices(text, expected):
    assert overrides.split_choices("name", text) == expected
