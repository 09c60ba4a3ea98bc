"""Checkpoint files on disk: atomic writes, newest-first loading that skips damaged files, pruning.

Checkpoints live where others can write (a shared Drive folder), so they are loaded with
``torch.load(weights_only=True)``: tensors and plain values only. A planted pickle that would
run code is refused, never run, and the newest honest checkpoint is used.

A runtime reset can cut a write short, so a file is written under a temporary name and
renamed into place, and a file that cannot be read is skipped with a warning, never
half-loaded. Needs torch but not fastai.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path

from .atomic import atomic_open

REQUIRED_FIELDS = {"epoch", "iteration", "n_epoch", "model", "opt", "rng"}
_NAME = re.compile(r"^epoch-(\d+)(?:-batch-(\d+))?\.pt$")


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and was skipped."""


def checkpoint_name(epochs_done: int, batches_done: int = 0) -> str:
    """``epoch-003.pt`` after three epochs; ``epoch-003-batch-000120.pt`` 120 batches into the fourth."""
    name = f"epoch-{epochs_done:03d}"
    return f"{name}-batch-{batches_done:06d}.pt" if batches_done else f"{name}.pt"


def position(path: Path) -> tuple[int, int] | None:
    """(epochs done, batches done in the next epoch) of a checkpoint file, or None for other files."""
    match = _NAME.match(path.name)
    return (int(match[1]), int(match[2] or 0)) if match else None


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if position(p) is not None), key=position)


def save(state: dict, path: Path) -> None:
    """Write ``state`` with torch.save under a temporary name, flush it to disk, then rename it into place."""
    import torch

    with atomic_open(path, "wb") as file:
        torch.save(state, file)


def load_latest(folder: Path, map_location="cpu") -> tuple[Path, dict] | None:
    """The newest checkpoint that reads back completely, skipping damaged ones with a CheckpointWarning."""
    import torch

    for path in reversed(list_checkpoints(folder)):
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
            missing = REQUIRED_FIELDS - set(state) if isinstance(state, dict) else REQUIRED_FIELDS
            if missing:
                raise ValueError(f"missing {', '.join(sorted(missing))}")
        except pickle.UnpicklingError:  # weights_only refused it: it names code to run while loading
            warnings.warn(
                f"refused {path}: it holds more than tensors and plain values, so loading it could run code; "
                "it was not loaded (delete it unless you trust where it came from); an older checkpoint is used instead",
                CheckpointWarning,
                stacklevel=2,
            )
            continue
        except Exception as error:  # any unreadable file is skipped, whatever the reader raised
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            warnings.warn(
                f"skipping damaged checkpoint {path} ({reason}); an older one is used instead",
                CheckpointWarning,
                stacklevel=2,
            )
            continue
        return path, state
    return None


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    files = list_checkpoints(folder)
    for path in files[: max(len(files) - keep, 0)]:
        path.unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> None:
    """Delete temporary files left by a save that a crash or reset cut short."""
    if folder.is_dir():
        for path in folder.glob(".epoch-*.tmp"):
            path.unlink(missing_ok=True)
