"""Which executed notebook shows each lesson on the site, and which run made it.

Two places hold executed lessons: ``build/executed/`` (`course test`, described by
``build/report.json``) and ``build/runs/<lesson>/<id>/`` (`course run`, described by its
``run.json``, ``params.json`` and ``environment.json``). Each lesson publishes its newest run at full
size, else its newest smoke run (a quick check, whose outputs are not the lesson's: its page and
`course site` say so); a lesson that never ran has none, and its page says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import read_json


@dataclass(frozen=True)
class Executed:
    """One executed notebook and the run that made it, as the lesson page states it."""

    notebook: Path
    command: str  # "course test" or "course run"
    smoke: bool | None
    device: str | None
    finished: str  # local time, "2026-12-03 11:42"
    commit: str | None

    def describe(self) -> str:
        size = {True: "smoke parameters", False: "full parameters", None: "parameters unknown"}[self.smoke]
        commit = f", commit {self.commit[:10]}" if self.commit else ""
        return f"`{self.command}`, {size}, on {self.device or 'an unknown device'}, {self.finished}{commit}"


def run_to_publish(root: Path, lesson: str, commit: str | None) -> Executed | None:
    """The executed notebook of ``lesson`` that its page shows: the newest full-size run, else the newest
    smoke run; None if it never ran."""
    found = [*_from_report(root / "build", lesson, commit), *_from_runs(root, lesson)]
    return max(found, key=lambda executed: (executed.smoke is False, executed.notebook.stat().st_mtime), default=None)


def _from_report(build: Path, lesson: str, commit: str | None) -> list[Executed]:
    from ..harness.report import read_report

    notebook = build / "executed" / f"{lesson}.ipynb"
    report = read_report(build / "report.json")
    if not notebook.is_file() or report is None:
        return []
    result = report.result(lesson)
    device = result.device if result else None
    return [Executed(notebook, "course test", report.options.get("smoke"), device, _when(notebook), commit)]


def _from_runs(root: Path, lesson: str) -> list[Executed]:
    from ..experiments.store import ENVIRONMENT_FILE, list_runs

    found = []
    for run in list_runs(root, lesson):
        notebook = run.directory / f"{lesson}.ipynb"
        if not notebook.is_file() or run.status != "passed":
            continue
        environment = read_json(run.directory / ENVIRONMENT_FILE)
        smoke = run.info.get("overrides", {}).get("smoke")
        commit = (environment.get("git") or {}).get("commit")
        found.append(Executed(notebook, "course run", smoke, environment.get("device"), _when(notebook), commit))
    return found


def _when(path: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
