"""Skip lessons that passed before and have not changed since.

A lesson's fingerprint covers what can change its outcome: its code cells (not
outputs, markdown or unrelated metadata) with the tags that change how papermill
and nbclient run them, the position of its ``parameters`` cell, every file under
``src/`` (the course's package: the tools live apart, in ``tools/``), every other file in
its folder (helper modules, small data files; not the other notebooks), the parameters it
gets, the timeouts, the environment (Python, key package versions, whether CUDA is
required), and of the tools only what changes a run: ``RUN_SHAPING``. Any other change to
the tools (reports, the site, grading, the command line) reruns no lesson. Only passing runs
are stored; a failure deletes the entry. Not covered: files a lesson reads from elsewhere
(``data/``, a URL, Drive) and packages other than ``KEY_PACKAGES``; ``course test --force``
runs anyway.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

from .. import notebooks
from ..atomic import write_json
from ..environment import installed_versions
from .launch import KERNEL_OPTIONS, OUTPUT_HEAD_CHARS, OUTPUT_TAIL_CHARS

KEY_PACKAGES = (
    "torch",
    "torchvision",
    "fastai",
    "fastcore",
    "numpy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "papermill",
    "nbclient",
    "ipykernel",
    "jupyter_client",
)
# The tools' code that changes what a lesson's run does: what runs in its kernel beside the lesson (checked shell
# commands, capped output, pre-warming) and how its parameters are read and injected.
RUN_SHAPING = (Path(__file__).with_name("in_kernel.py"), Path(__file__).parents[1] / "parameters.py")
_RUN_TAGS = (notebooks.PARAMETERS_TAG, notebooks.SKIP_TAG, notebooks.RAISES_TAG)
_SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def notebook_digest(notebook: Path) -> str:
    """Hash of the code that runs: code cell sources, their behaviour tags, the parameters cell position."""
    cells = notebooks.cells(notebooks.read_notebook(notebook))
    code = [
        {
            "index": index,
            "source": notebooks.cell_source(cell),
            "tags": sorted(set(notebooks.tags(cell)) & set(_RUN_TAGS)),
        }
        for index, cell in enumerate(cells)
        if cell.get("cell_type") == "code"
    ]
    return _digest(code)


def tree_digest(folder: Path, *, skip_suffixes: tuple[str, ...] = ()) -> str:
    """Hash of every file (path and bytes) under ``folder``, caches and bytecode excluded."""
    hasher = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if not path.is_file() or _SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc":
                continue
            if path.suffix in skip_suffixes:
                continue
            if any(part.endswith(".egg-info") for part in relative.parts):
                continue
            hasher.update(relative.as_posix().encode() + b"\0")
            hasher.update(hashlib.sha256(path.read_bytes()).digest())
    return hasher.hexdigest()


def environment_key(*, gpu: bool) -> dict:
    """What about the interpreter decides whether an old pass still counts."""
    packages = installed_versions(KEY_PACKAGES)
    return {"python": platform.python_version(), "machine": platform.machine(), "packages": packages, "gpu": gpu}


def tools_digest() -> str:
    """Hash of the tools as far as they shape a run: ``RUN_SHAPING``'s files and the kernel's options and caps."""
    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in RUN_SHAPING}
    return _digest({"files": files, "kernel": [KERNEL_OPTIONS, OUTPUT_HEAD_CHARS, OUTPUT_TAIL_CHARS]})


def fingerprint(notebook: Path, src: Path, parameters: dict, environment: dict, limits: dict) -> str:
    return _digest(
        {
            "notebook": notebook_digest(notebook),
            "src": tree_digest(src),
            "tools": tools_digest(),
            "lesson_folder": tree_digest(notebook.parent, skip_suffixes=(".ipynb",)),
            "parameters": parameters,
            "limits": limits,
            "environment": environment,
        }
    )


class LessonCache:
    """One JSON file per lesson under ``folder``: the fingerprint and result of its last passing run."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _entry(self, lesson: str) -> Path:
        return self.folder / f"{lesson}.json"

    def lookup(self, lesson: str, key: str) -> dict | None:
        """The stored result if ``key`` matches and its executed notebook still exists."""
        try:
            entry = json.loads(self._entry(lesson).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        result = entry.get("result") or {}
        if entry.get("fingerprint") != key or not Path(result.get("executed_notebook", "")).is_file():
            return None
        return result

    def store(self, lesson: str, key: str, result: dict) -> None:
        write_json(self._entry(lesson), {"fingerprint": key, "result": result})

    def forget(self, lesson: str) -> None:
        self._entry(lesson).unlink(missing_ok=True)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
