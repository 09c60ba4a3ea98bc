"""Resumable training: real fastai runs in subprocesses, killed with SIGKILL and started again.

Each process pays the fastai import, so one test runs them all (and stays on one pytest-xdist
worker): an uninterrupted run, a run killed after an epoch and one killed in the middle of an
epoch run side by side; then both killed runs are started again and checked against the first.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from colab_course_tools.testing import course_env

from {{ cookiecutter.package }} import checkpoint_files

EPOCHS = 4
TRAIN_SCRIPT = '''
import json, sys, time
import torch
from torch import nn
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
import {{ cookiecutter.package }} as course

out, every_minutes, pause = sys.argv[1], float(sys.argv[2]) or None, float(sys.argv[3])
set_seed(0)
x = torch.randn(320, 8)
y = (x[:, 0] + x[:, 1] > 0).long()
dls = DataLoaders(
    DataLoader(list(zip(x[:256], y[:256])), bs=16, shuffle=True),
    DataLoader(list(zip(x[256:], y[256:])), bs=64),
)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy)


class Trace(Callback):
    """Records every optimizer step; the pause gives the test time to kill the run mid-training."""
    steps = []

    def after_step(self):
        self.steps.append([self.epoch, self.iter])
        time.sleep(pause)


course.checkpoints.fit_resumable(learn, 4, 1e-2, name="tiny", every_minutes=every_minutes, cbs=[Trace()])
torch.save(learn.model.state_dict(), out + ".pt")
result = {"steps": Trace.steps}
if "--again" in sys.argv:
    course.checkpoints.fit_resumable(learn, 4, 1e-2, name="tiny", cbs=[Trace()])
    result["steps_again"] = Trace.steps[len(result["steps"]):]
    try:
        course.checkpoints.fit_resumable(learn, 6, 1e-2, name="tiny")
    except course.CourseError as error:
        result["other_epochs_error"] = str(error)
json.dump(result, open(out + ".json", "w"))
'''


def start(tmp: Path, name: str, *args, env: dict):
    env = dict(env, COURSE_CHECKPOINTS=str(tmp / name), COURSE_ROOT=str(tmp))
    with open(tmp / f"{name}.log", "w") as log:
        command = [sys.executable, str(tmp / "train.py"), str(tmp / name), *map(str, args)]
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def kill_when(process, folder: Path, reached: tuple, timeout: float = 120) -> list:
    """SIGKILL ``process`` once a checkpoint at (epochs, batches) >= ``reached`` exists; return the files then."""
    deadline = time.monotonic() + timeout
    while not any(position >= reached for position in map(checkpoint_files.position, folder.glob("epoch-*.pt"))):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint appeared in time"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return [path.name for path in checkpoint_files.list_checkpoints(folder)]


def finish(process, tmp: Path, name: str) -> dict:
    assert process.wait(timeout=300) == 0, (tmp / f"{name}.log").read_text()
    result = json.loads((tmp / f"{name}.json").read_text())
    result["weights"] = torch.load(tmp / f"{name}.pt")
    result["log"] = (tmp / f"{name}.log").read_text()
    return result


def run_all(tmp: Path, env: dict) -> dict:
    (tmp / "train.py").write_text(TRAIN_SCRIPT)
    started = time.monotonic()
    processes = []
    try:
        processes += [
            start(tmp, "whole", 0, 0, env=env),
            start(tmp, "after_epoch", 0, 0.1, env=env),
            start(tmp, "mid_epoch", 0.0001, 0.1, env=env),  # a checkpoint after (almost) every batch
        ]
        whole, after_epoch, mid_epoch = processes
        files = {
            "after_epoch": kill_when(after_epoch, tmp / "after_epoch" / "tiny", (2, 0)),
            "mid_epoch": kill_when(mid_epoch, tmp / "mid_epoch" / "tiny", (2, 3)),
        }
        processes += [
            start(tmp, "after_epoch", 0, 0, "--again", env=env),
            start(tmp, "mid_epoch", 0.0001, 0, env=env),
        ]
        result = {
            "tmp": tmp,
            "files_at_kill": files,
            "whole": finish(whole, tmp, "whole"),
            "after_epoch": finish(processes[3], tmp, "after_epoch"),
            "mid_epoch": finish(processes[4], tmp, "mid_epoch"),
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    print(f"resumable training runs took {time.monotonic() - started:.1f} s")
    return result


def logged_rows(log: str) -> dict:
    """Rows the Recorder printed, `[epoch, train_loss, valid_loss, accuracy, time]`, by epoch, without the time."""
    return {int(match[1]): match[2] for match in re.finditer(r"^\[(\d+), (.*), '[\d:]+'\]$", log, re.MULTILINE)}


def logged_epochs(log: str) -> list:
    return list(logged_rows(log))


def assert_same_rows(resumed: dict, whole: dict):
    """Train loss, valid loss and accuracy of every resumed epoch as in the uninterrupted run."""
    rows, whole_rows = logged_rows(resumed["log"]), logged_rows(whole["log"])
    assert rows == {epoch: whole_rows[epoch] for epoch in rows}


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key]), key


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three trainings of one tiny model: whole, killed after an epoch, killed mid-epoch; then resumed."""
    return run_all(tmp_path_factory.mktemp("resume"), course_env())


# These share one set of trainings: one worker runs them all, so the trainings run once.
RESUME = pytest.mark.xdist_group("resume")


@RESUME
def test_uninterrupted_run_saves_every_epoch_and_keeps_the_last_three(runs):
    assert runs["whole"]["steps"] == [[e, i] for e in range(EPOCHS) for i in range(16)]
    folder = runs["tmp"] / "whole" / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-002.pt", "epoch-003.pt", "epoch-004.pt"]


@RESUME
def test_run_killed_after_an_epoch_trains_only_the_remaining_epochs(runs):
    at_kill = runs["files_at_kill"]["after_epoch"]
    done = checkpoint_files.position(Path(at_kill[-1]))[0]
    assert at_kill[-1] == f"epoch-{done:03d}.pt" and 2 <= done < EPOCHS
    resumed = runs["after_epoch"]
    assert f"resuming 'tiny' from epoch-{done:03d}.pt: {done} of {EPOCHS} epochs done" in resumed["log"]
    assert resumed["steps"] == [[e, i] for e in range(done, EPOCHS) for i in range(16)]
    assert logged_epochs(resumed["log"]) == list(range(done, EPOCHS))  # no empty rows for skipped epochs
    assert_same_rows(resumed, runs["whole"])
    assert_same_weights(resumed["weights"], runs["whole"]["weights"])


@RESUME
def test_run_killed_mid_epoch_resumes_at_the_next_batch(runs):
    newest = runs["files_at_kill"]["mid_epoch"][-1]
    epoch, batches = checkpoint_files.position(Path(newest))
    assert batches > 0
    resumed = runs["mid_epoch"]
    assert f"resuming 'tiny' from {newest}: {epoch} of {EPOCHS} epochs done" in resumed["log"]
    assert resumed["steps"][0] == [epoch, batches]
    assert len(resumed["steps"]) == (EPOCHS - epoch) * 16 - batches
    assert logged_epochs(resumed["log"]) == list(range(epoch, EPOCHS))
    assert_same_rows(resumed, runs["whole"])
    assert_same_weights(resumed["weights"], runs["whole"]["weights"])
    assert not list((runs["tmp"] / "mid_epoch" / "tiny").glob(".*.tmp"))


@RESUME
def test_finished_run_is_not_trained_again(runs):
    resumed = runs["after_epoch"]
    assert resumed["steps_again"] == []
    assert "'tiny' is already trained (epoch-004.pt)" in resumed["log"]


@RESUME
def test_other_epoch_count_is_refused_with_the_fix(runs):
    folder = runs["tmp"] / "after_epoch" / "tiny"
    assert runs["after_epoch"]["other_epochs_error"] == (
        f"the checkpoints in {folder} belong to a 4-epoch run, not 6: pass epochs=4 to finish it, "
        "or use another name (or delete the folder) to start over"
    )


def test_damaged_checkpoint_is_skipped_with_a_warning(tmp_path):
    for epoch in (1, 2, 3):
        state = {
            "epoch": epoch,
            "iteration": 0,
            "n_epoch": 3,
            "model": {"w": torch.full((64, 64), epoch)},
            "opt": {},
            "rng": torch.get_rng_state(),
        }
        checkpoint_files.save(state, tmp_path / checkpoint_files.checkpoint_name(epoch))
    newest = tmp_path / "epoch-003.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a save cut off by a reset

    with pytest.warns(checkpoint_files.CheckpointWarning) as caught:
        path, state = checkpoint_files.load_latest(tmp_path)

    assert path == tmp_path / "epoch-002.pt"
    assert state["epoch"] == 2 and torch.equal(state["model"]["w"], torch.full((64, 64), 2))
    assert len(caught) == 1
    assert re.fullmatch(
        rf"skipping damaged checkpoint {re.escape(str(newest))} \(.+\); an older one is used instead",
        str(caught[0].message),
    )


class Planted:
    """What an attacker with write access to the Drive folder could leave: a pickle that runs a command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_is_refused_never_run_and_an_honest_checkpoint_is_used(tmp_path):
    marker = tmp_path / "the-planted-code-ran"
    honest = {"epoch": 2, "iteration": 0, "n_epoch": 3, "model": {"w": torch.ones(2)}, "opt": {}, "rng": {}}
    checkpoint_files.save(honest, tmp_path / "epoch-002.pt")
    planted = dict(honest, epoch=3, model=Planted(marker))
    torch.save(planted, tmp_path / "epoch-003.pt")

    with pytest.warns(checkpoint_files.CheckpointWarning) as caught:
        path, state = checkpoint_files.load_latest(tmp_path)

    assert not marker.exists(), "loading must never run what a checkpoint names"
    assert path == tmp_path / "epoch-002.pt" and state["epoch"] == 2
    assert str(caught[0].message).startswith(
        f"refused {tmp_path / 'epoch-003.pt'}: it holds more than tensors and plain values, so loading it could run code"
    )


def test_saves_are_atomic_and_pruned(tmp_path):
    for epoch in range(1, 6):
        checkpoint_files.save({"epoch": epoch}, tmp_path / checkpoint_files.checkpoint_name(epoch))
    checkpoint_files.save({"epoch": 5}, tmp_path / checkpoint_files.checkpoint_name(5, 120))
    (tmp_path / ".epoch-006.pt.x1y2.tmp").write_bytes(b"cut off")  # a save killed half-way

    checkpoint_files.prune(tmp_path, keep=3)
    checkpoint_files.remove_temporaries(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-004.pt", "epoch-005-batch-000120.pt", "epoch-005.pt"]
    assert [p.name for p in checkpoint_files.list_checkpoints(tmp_path)][-1] == "epoch-005-batch-000120.pt"


def test_no_readable_checkpoint_means_a_fresh_start(tmp_path):
    (tmp_path / "epoch-001.pt").write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert checkpoint_files.load_latest(tmp_path) is None
    assert [w.category for w in caught] == [checkpoint_files.CheckpointWarning]
    assert checkpoint_files.load_latest(tmp_path / "missing") is None
