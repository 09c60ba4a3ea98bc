"""Training that survives a runtime reset: checkpoints on Drive and an exact resume.

``fit_resumable(learn, epochs, name=...)`` saves model, optimizer, position and every
random state after each epoch (and every ``every_minutes`` if asked) under
``course_paths().checkpoints / name``. Run the same cell again after a reset and it
continues from the newest readable checkpoint with the same learning-rate schedule,
data order and random numbers, so the result equals an uninterrupted run.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import fastai.callback.schedule  # noqa: F401  (adds fit_one_cycle and fit_flat_cos to Learner)
import numpy as np
import torch
from fastai.callback.core import Callback, CancelBatchException
from fastcore.foundation import L

from . import checkpoint_files
from .config import course_paths
from .errors import CourseError


def fit_resumable(
    learn,
    epochs: int,
    lr=None,
    *,
    name: str,
    every_minutes: float | None = None,
    keep: int = 3,
    method: str = "fit_one_cycle",
    cbs=None,
    **fit_kwargs,
):
    """Train like ``learn.<method>(epochs, lr)`` but resumable; returns ``learn``.

    ``method`` is any fastai fit method that takes ``start_epoch`` (``fit_one_cycle``,
    ``fit``, ``fit_flat_cos``). Keep ``epochs`` and ``lr`` the same when resuming:
    the schedule is computed from them.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    folder = course_paths().checkpoints / name
    found = checkpoint_files.load_latest(folder, map_location=_device(learn))
    callback = ResumableCheckpoint(folder, keep=keep, every_minutes=every_minutes)
    start_epoch = 0
    if found is None:
        print(f"checkpoints of {name!r} go to {folder}")
    else:
        path, state = found
        if state["n_epoch"] != epochs:
            raise CourseError(
                f"the checkpoints in {folder} belong to a {state['n_epoch']}-epoch run, not {epochs}: "
                f"pass epochs={state['n_epoch']} to finish it, or use another name (or delete the folder) to start over"
            )
        _restore(learn, state, path)
        if state["epoch"] >= epochs:
            print(f"{name!r} is already trained ({path.name}); delete {folder} to train again")
            return learn
        print(f"resuming {name!r} from {path.name}: {state['epoch']} of {epochs} epochs done")
        callback.resume = state
        start_epoch = state["epoch"]
    fit = getattr(learn, method)
    fit(epochs, lr, start_epoch=start_epoch, cbs=[callback, *(cbs or [])], **fit_kwargs)
    return learn


def _device(learn):
    return getattr(learn.dls, "device", None) or "cpu"


def _restore(learn, state: dict, path: Path) -> None:
    try:
        learn.model.load_state_dict(state["model"])
        if learn.opt is None:
            learn.create_opt()
        learn.opt.load_state_dict({**state["opt"], "hypers": L(state["opt"]["hypers"])})
    except (RuntimeError, AssertionError, KeyError) as error:
        raise CourseError(
            f"checkpoint {path} does not fit this model or optimizer ({str(error).splitlines()[0][:160]}): "
            f"use another name to start over, or delete {path.parent}"
        ) from None


class ResumableCheckpoint(Callback):
    """Save a checkpoint after every epoch (and every ``every_minutes``), keep the newest ``keep``.

    With ``resume`` set to a loaded checkpoint it also puts the run back where the checkpoint
    was taken: random states at the start of that epoch, the already trained batches of a
    mid-epoch checkpoint skipped (loaded, not trained), then the random states of the moment
    the checkpoint was saved.
    """

    order = 65  # after the Recorder (50) has finished an epoch, before fastai's SkipToEpoch (70) starts one

    def __init__(self, folder: Path, *, keep: int = 3, every_minutes: float | None = None, resume: dict | None = None):
        self.folder = Path(folder)
        self.keep = keep
        self.every_seconds = every_minutes * 60 if every_minutes else None
        self.resume = resume

    def before_fit(self):
        checkpoint_files.remove_temporaries(self.folder)
        self._last_save = time.monotonic()
        self._trained = False
        self._hidden_logger = None

    def before_epoch(self):
        skipped = self.resume is not None and self.epoch < self.resume["epoch"]
        if skipped and self._hidden_logger is None:  # no empty table rows for epochs done before the reset
            self._hidden_logger, self.learn.logger = self.learn.logger, _ignore
        elif not skipped:
            self._show_log()

    def after_fit(self):
        self._show_log()

    def _show_log(self):
        if self._hidden_logger is not None:
            self.learn.logger, self._hidden_logger = self._hidden_logger, None

    def before_train(self):
        self._trained = True
        if self.resume is not None and self.epoch == self.resume["epoch"]:
            if self.resume["iteration"]:
                _set_rng_state(self.resume["epoch_start_rng"], self.dls)
            else:
                self._continue_from(self.resume)
        self._epoch_start_rng = _rng_state(self.dls)

    def before_batch(self):
        if self.training and self.resume is not None and self.iter < self.resume["iteration"]:
            self.learn.yb = ()  # keeps the Recorder from averaging a loss that was never computed
            raise CancelBatchException  # trained before the reset

    def after_batch(self):
        if not self.training:
            return
        if self.resume is not None:
            if self.iter == self.resume["iteration"] - 1:
                self._continue_from(self.resume)
            return
        due = self.every_seconds and time.monotonic() - self._last_save >= self.every_seconds
        if due and self.iter + 1 < self.n_iter:
            self._save(epochs_done=self.epoch, batches_done=self.iter + 1)

    def after_epoch(self):
        if self._trained:  # epochs before start_epoch are skipped, not trained
            self._save(epochs_done=self.epoch + 1, batches_done=0)
        self._trained = False

    def _continue_from(self, state: dict) -> None:
        """Random states and running train loss as they were when ``state`` was saved."""
        _set_rng_state(state["rng"], self.dls)
        if state.get("smooth_loss") and hasattr(self.learn, "recorder"):
            self.learn.recorder.smooth_loss.count, self.learn.recorder.smooth_loss.val = state["smooth_loss"]
        self.resume = None

    def _save(self, epochs_done: int, batches_done: int) -> None:
        state = {
            "epoch": epochs_done,
            "iteration": batches_done,
            "n_epoch": self.n_epoch,
            "model": self.learn.model.state_dict(),
            "opt": self.learn.opt.state_dict(),
            "rng": _rng_state(self.dls),
            "epoch_start_rng": self._epoch_start_rng if batches_done else None,
            "smooth_loss": _smooth_loss(self.learn),
        }
        name = checkpoint_files.checkpoint_name(epochs_done, batches_done)
        checkpoint_files.save(_plain(state), self.folder / name)
        checkpoint_files.prune(self.folder, self.keep)
        self._last_save = time.monotonic()


def _smooth_loss(learn) -> tuple | None:
    """The Recorder's running train loss (count, value), so a resumed run reports the same losses."""
    recorder = getattr(learn, "recorder", None)
    return (recorder.smooth_loss.count, recorder.smooth_loss.val) if recorder is not None else None


def _ignore(*args, **kwargs) -> None:
    pass


def _plain(value):
    """Only what ``torch.load(weights_only=True)`` reads: fastai's ``L`` and tensor subclasses, and numpy
    numbers (a learning rate from the schedule), become lists, plain tensors and Python numbers."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, L)):
        items = [_plain(item) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, torch.Tensor):
        return value.as_subclass(torch.Tensor) if type(value) is not torch.Tensor else value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rng_state(dls) -> dict:
    """Every random state training draws from: Python, NumPy, torch (CPU and CUDA), and each
    DataLoader's own generator (fastai shuffles with it). Plain values and tensors only, so a
    checkpoint loads with ``weights_only=True``."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, keys.tolist(), position, has_gauss, gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "loaders": [loader.rng.getstate() for loader in dls.loaders],
    }


def _set_rng_state(state: dict, dls) -> None:
    random.setstate(state["python"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    for loader, loader_state in zip(dls.loaders, state["loaders"]):
        loader.rng.setstate(loader_state)
