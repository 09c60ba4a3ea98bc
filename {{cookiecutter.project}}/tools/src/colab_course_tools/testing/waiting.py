"""Waiting in a test for something another process does, with a limit and a message saying what."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float, what: str) -> None:
    """Return once ``condition()`` is true; fail the test, naming ``what``, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
