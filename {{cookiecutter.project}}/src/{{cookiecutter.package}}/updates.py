"""Bring a student's copy of the course (on Drive in Colab, in /kaggle/working on Kaggle) up to date.

The teacher's changes always arrive, and the student's edits are never lost:

- files only the student changed keep the student's version;
- files only the course changed get the course's version;
- a file both changed gets the course's version, and the student's is kept beside it as
  ``<name>.mine<suffix>`` (``lessons/01_intro.mine.ipynb``), named in one line;
- commits the student made stay on a branch ``my-work-<time>``.

The student's uncommitted changes are stashed while the update runs, so a runtime reset in
the middle leaves them in ``git stash list``. A ``.git/index.lock`` left behind by a reset
(no git process is running) is removed, with a line saying so. File modes are ignored
(``core.fileMode false``): Google Drive flips executable bits, and git would otherwise take every
executable file for the student's edit.
"""

from __future__ import annotations

import time
from pathlib import Path

from .git import GitFailed
from .git import git as _git

STASH_MESSAGE = "course update: your edits while the course was updated"


def update(root: Path, branch: str, *, kaggle: bool = False) -> list[str]:
    """Fetch ``branch`` from ``origin`` and move the copy to it; returns lines to show (none if up to date)."""
    lines = _remove_stale_lock(root)
    try:
        _git(root, "config", "core.fileMode", "false")
        return lines + _update(root, branch)
    except GitFailed as failure:
        hint = " (Kaggle: turn on Settings > Internet)" if kaggle and "fetch" in str(failure) else ""
        return [*lines, f"Course not updated, your copy is kept as it is: {failure}{hint}"]


def _update(root: Path, branch: str) -> list[str]:
    _git(root, "fetch", "--quiet", "origin", branch)
    head, target = _git(root, "rev-parse", "HEAD"), _git(root, "rev-parse", "FETCH_HEAD")
    if head == target:
        return []
    base = _git(root, "merge-base", head, target)
    if base == target:  # only the student moved on (commits of their own): nothing to bring in
        return []
    theirs = set(_changed(root, base, target))
    mine = set(_changed(root, base, head)) | set(_local_changes(root))
    both = sorted(theirs & mine)
    edits = {path: _read(root / path) for path in mine}  # the student's versions, None if deleted
    notes = []
    if base != head:
        backup = f"my-work-{time.strftime('%Y%m%d-%H%M%S')}"
        _git(root, "branch", backup, head)
        notes.append(f"your commits are on branch {backup}")
    stashed = bool(_local_changes(root))
    if stashed:  # a durable copy of the student's edits until they are back in place
        _git(root, "stash", "push", "--include-untracked", "--message", STASH_MESSAGE)
    _git(root, "reset", "--quiet", "--hard", target)
    for path in sorted(mine - theirs):  # the student's own changes go back on top of the new version
        _write(root / path, edits[path])
    kept = {path: _keep_copy(root, path, edits[path]) for path in both if edits[path] is not None}
    if stashed:
        _git(root, "stash", "drop", "--quiet")
    summary = f"Course updated ({len(theirs)} file{'s' if len(theirs) != 1 else ''} changed)"
    if kept:
        copies = "; ".join(f"{path} -> {copy}" for path, copy in kept.items())
        notes.append(
            f"you had edited files the course changed, so your versions are kept as copies ({copies}) "
            "and the course's new versions are in their places"
        )
    return [summary + (": " + "; ".join(notes) if notes else "") + "."]


def _changed(root: Path, old: str, new: str) -> list[str]:
    listed = _git(root, "diff", "--name-only", "--no-renames", "-z", old, new, raw=True)
    return [path for path in listed.split("\0") if path]


def _local_changes(root: Path) -> list[str]:
    """Paths with uncommitted changes, untracked files included (ignored ones are not the course's)."""
    status = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", raw=True)
    return [entry[3:] for entry in status.split("\0") if entry]


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _write(path: Path, content: bytes | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def _keep_copy(root: Path, path: str, content: bytes) -> str:
    """Write the student's version beside the file as ``name.mine.ext`` (``.mine-2`` ... if taken)."""
    original = Path(path)
    number = 1
    while True:
        mark = "mine" if number == 1 else f"mine-{number}"
        copy = original.with_name(f"{original.stem}.{mark}{original.suffix}")
        if not (root / copy).exists():
            _write(root / copy, content)
            return copy.as_posix()
        number += 1


def _remove_stale_lock(root: Path) -> list[str]:
    """A lock no running git holds is left over from a reset or a crash: without removing it, git refuses."""
    lock = root / ".git" / "index.lock"
    if not lock.exists() or _git_is_running_in(root):
        return []
    lock.unlink(missing_ok=True)
    return ["Removed .git/index.lock, left behind by a git command that was cut off (for example by a runtime reset)."]


def _git_is_running_in(root: Path) -> bool:
    """Whether a git process works in this copy now (its lock is then no leftover)."""
    import psutil

    here = root.resolve()
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "git":
            continue
        try:
            if Path(process.cwd()).resolve().is_relative_to(here):
                return True
        except (psutil.Error, OSError):
            continue
    return False
