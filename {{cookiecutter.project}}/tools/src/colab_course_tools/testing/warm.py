"""A warm process for one lesson's folder, as `course warm` starts one: to run a lesson both ways."""

from __future__ import annotations

import contextlib
from pathlib import Path


@contextlib.contextmanager
def warm_process_for(lesson: Path, env: dict | None = None):
    """While the block runs, a lesson of ``lesson``'s folder run with ``env`` forks from a warm process
    that imported what ``lesson`` imports; yields whether ``lesson`` may fork from it."""
    from ..harness.runner import worker_env
    from ..harness.warm_starts import WarmProcess, cold_reason, lesson_imports, shared_imports, socket_path

    imports = lesson_imports(lesson)
    folder = lesson.parent
    warm = WarmProcess.start(socket_path(folder), folder, shared_imports([imports]), {**worker_env(), **(env or {})})
    try:
        yield cold_reason(lesson, imports, warm.wait_ready()) is None
    finally:
        warm.stop()
