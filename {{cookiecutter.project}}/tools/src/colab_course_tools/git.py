"""Running git: the one way the course calls it (updates, run records, the secret scan, tests).

A failure is one line: ``git fetch: <git's first line that is not a hint>``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

TIMEOUT_S = 120  # a fetch or clone over a slow network
QUICK_TIMEOUT_S = 30  # a question about the local repository (its commit, its status)


class GitFailed(Exception):
    """git could not be run, did not finish in time, or exited with an error; the message says which."""


def git(root: Path, *args: str, env: dict | None = None, raw: bool = False, timeout: float = TIMEOUT_S) -> str:
    """git's output in ``root`` (stripped unless ``raw``: NUL-separated lists keep their leading spaces)."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitFailed(f"git {args[0]} did not finish ({error})") from None
    if done.returncode:
        reason = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("hint:")]
        raise GitFailed(f"git {args[0]}: {reason[0] if reason else f'exit code {done.returncode}'}")
    return done.stdout if raw else done.stdout.strip()


def head_commit(root: Path) -> str | None:
    """The commit checked out in ``root`` (run records, the website's pages); None outside git."""
    try:
        return git(root, "rev-parse", "HEAD", timeout=QUICK_TIMEOUT_S)
    except GitFailed:
        return None
