"""What a lesson worker is asked to do (``LessonJob``) and what came of it (``LessonResult``).

The leaf of the harness: the scheduler (``runner``) sends a job to a worker process as one
line of JSON, the worker (``worker``) writes the result back as JSON, and both import only
this module to agree on the format; time limits come from ``limits``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .limits import cell_limit


@dataclass
class LessonJob:
    """One lesson to run: the notebook, where its executed copy goes, its parameters and limits.

    ``env`` is added to the kernel's environment (a sealed kernel gets none of it). ``seal``, when set,
    runs the kernel sealed (``sandbox.Seal`` as a dict). ``cell_timeout`` defaults as ``limits.cell_limit``
    decides. ``result_path`` is where the worker writes its result,
    ``progress_path`` where it keeps a snapshot of how far the lesson is (``progress``).
    """

    notebook: Path
    output: Path
    parameters: dict = field(default_factory=dict)
    timeout: float | None = None
    cell_timeout: float | None = None
    env: dict = field(default_factory=dict)
    result_path: Path | None = None
    progress_path: Path | None = None
    work_dir: Path | None = None  # the kernel's private folder (connection file, sockets)
    seal: dict | None = None

    def __post_init__(self):
        self.notebook, self.output = Path(self.notebook), Path(self.output)
        for name in ("result_path", "progress_path", "work_dir"):
            if getattr(self, name) is not None:
                setattr(self, name, Path(getattr(self, name)))
        self.cell_timeout = cell_limit(given=self.cell_timeout, lesson=self.timeout)
        self.parameters, self.env = dict(self.parameters or {}), dict(self.env or {})

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> LessonJob:
        return cls(**json.loads(text))


@dataclass
class LessonResult:
    """The outcome of one lesson run; ``failed_cell`` numbers the lesson's cells as written, from 1."""

    lesson: str
    status: str  # "passed", "failed", "timed out", "interrupted" or "cached"
    seconds: float = 0.0  # from the moment the lesson was told to go, kernel start-up included
    startup_seconds: float | None = None  # of which: waiting for the kernel to be ready
    device: str | None = None  # "cuda" or "cpu" as seen inside the kernel; None if unknown
    gpu_name: str | None = None
    peak_gpu_memory_mb: float | None = None
    peak_ram_mb: float | None = None  # resident memory of the kernel and everything it started
    warm_start: bool | None = None  # the kernel was forked from the warm process (``warm``), not started anew
    failed_cell: int | None = None
    failed_source: str = ""
    error: str = ""
    executed_notebook: Path | None = None
    traceback: str = ""
    warnings: list[str] = field(default_factory=list)  # worth knowing, not a failure
    finished_at: str | None = None  # local time the lesson ended, e.g. "2026-11-29 23:55:25"
    metrics: dict = field(default_factory=dict)  # the final value of each metric the lesson logged
    headline: str | None = None  # the lesson's headline metric
    band: dict | None = None  # its metrics against the course's band (``band_check.Verdict``)

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "cached")

    def to_json(self) -> dict:
        data = asdict(self)
        data["executed_notebook"] = str(self.executed_notebook) if self.executed_notebook else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> LessonResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("executed_notebook"):
            values["executed_notebook"] = Path(values["executed_notebook"])
        return cls(**values)

    def failed_where(self) -> str:
        """``failed in cell 4``: the status and, when known, the cell (numbered as in the lesson)."""
        return f"{self.status} in cell {self.failed_cell}" if self.failed_cell is not None else self.status

    def failure(self) -> str:
        """Where and why the lesson did not pass, as every report says it: ``failed in cell 4: NameError: x``."""
        return f"{self.failed_where()}: {self.error}"

    def describe(self) -> str:
        """A failure as a person wants to read it: where, the cell's code, the error and its traceback."""
        if self.ok:
            return f"{self.lesson}: {self.status} in {self.seconds:.1f} s"
        parts = [f"{self.lesson} {self.failure()}"]
        if self.failed_source:
            parts.append("cell source:\n" + _indent(self.failed_source))
        if self.traceback:
            parts.append("traceback:\n" + _indent(self.traceback))
        if self.executed_notebook:
            parts.append(f"executed notebook: {self.executed_notebook}")
        return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())
