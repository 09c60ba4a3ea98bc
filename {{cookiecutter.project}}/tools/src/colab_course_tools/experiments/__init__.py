"""Experiments: run a lesson with other parameters, sweep a grid of them, compare past runs.

Each run executes the lesson with papermill (through the harness) into its own folder
``build/runs/<lesson>/<run-id>/`` (layout in ``store``). Runs are smoke-sized unless ``full``
is asked for. A run gets ``COURSE_RUN_DIR`` (where ``log_metrics`` writes) and
``COURSE_CHECKPOINTS`` (its own checkpoint folder) in the kernel's environment, so re-running
with the same run id resumes lessons that train with ``course.checkpoints.fit_resumable``
from their last finished epoch.

From a terminal: ``course run``, ``course sweep``, ``course runs`` (``commands``). From a
notebook where the tools are installed: ``from colab_course_tools import experiments``, then ``experiments.run("01", lr=3e-3)``,
``experiments.sweep("01", lr=[1e-3, 3e-3])``, ``experiments.runs()`` do the
same; results land in the repo's build/.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CourseError

if TYPE_CHECKING:  # the notebook API loads its machinery when called: `course --help` lists it cheaply
    from .store import Run


def run(
    lesson: str,
    *,
    full: bool = False,
    run_id: str | None = None,
    cell_timeout: float | None = None,
    force: bool = False,
    **values,
) -> Run | None:
    """Execute ``lesson`` with ``values`` overriding its parameters; the same ``run_id`` resumes.

    A run id that passed already is not run again (None), unless ``force`` runs it afresh.
    """
    from ..config import course_root
    from ..overrides import check_overrides
    from .execution import execute_run, lesson_and_parameters

    root = course_root()
    notebook, parameters = lesson_and_parameters(root, lesson)
    overrides = check_overrides(notebook.stem, values, parameters)
    return execute_run(
        root, notebook, parameters, overrides, full=full, run_id=run_id, cell_timeout=cell_timeout, force=force
    )


def sweep(lesson: str, *, workers: int = 1, full: bool = False, cell_timeout: float | None = None, **grid) -> Path:
    """Run every combination of ``grid`` (name -> list of values); returns the Markdown table's path."""
    from ..config import course_root
    from ..overrides import check_overrides
    from . import sweeps
    from .execution import lesson_and_parameters

    root = course_root()
    notebook, parameters = lesson_and_parameters(root, lesson)
    for name, values in grid.items():
        if not isinstance(values, list):
            raise CourseError(f"sweep({name}={values!r}): give a list of values to try, e.g. {name}=[1, 2]")
        for value in values:
            check_overrides(notebook.stem, {name: value}, parameters)
    return sweeps.sweep(root, notebook.stem, grid, workers=workers, full=full, cell_timeout=cell_timeout)[0]


def runs(lesson: str | None = None) -> list[Run]:
    """Past runs, oldest first (of one lesson if given)."""
    from ..config import course_root
    from .execution import lesson_stem
    from .store import list_runs

    root = course_root()
    return list_runs(root, lesson_stem(root, lesson) if lesson else None)
