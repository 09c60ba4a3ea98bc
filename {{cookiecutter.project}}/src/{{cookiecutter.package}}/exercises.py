"""Exercises that check themselves (otter-grader): a student version of a lesson calls ``checks`` once;
its check cells then run that lesson's public tests, which `course assign` wrote under
``student/tests/<lesson>/``.
"""

from __future__ import annotations

from pathlib import Path


def checks(lesson: str):
    """The grader a student version's check cells call (``grader.check("accuracy")``): otter's
    ``Notebook``, reading the public tests of ``lesson`` from the course folder, so a renamed or
    copied notebook (Drive's ``01_first_model (1).ipynb``) checks the same. In Colab and Kaggle the
    ``[checks]`` extra is installed here the first time: otter-grader and the few packages its checks import
    that those runtimes lack, without their dependencies, in one pip call of a few seconds that changes none of
    the runtime's packages (otter-grader's own requirements would upgrade Colab's ipywidgets and wrapt). A
    lesson without exercises never installs it."""
    import os
    import sys

    from .config import find_root
    from .environment import runtime
    from .installer import install_missing

    root = Path(os.environ.get("COURSE_ROOT") or find_root())
    if runtime() in ("colab", "kaggle"):
        install_missing(root, extra="checks", without_dependencies=True)
    import otter

    tests = root / "student" / "tests" / lesson
    grader = otter.Notebook(tests_dir=str(tests))
    hidden = _hidden_counts(tests)
    check = grader.check

    def check_and_say_what_grading_adds(question: str, global_env=None, **kwargs):
        if global_env is None:  # otter reads its caller's variables: the notebook's, not this function's
            global_env = sys._getframe(1).f_globals
        result = check(question, global_env, **kwargs)
        count = hidden.get(question, 0)
        if not count:
            return result
        points = getattr(result, "possible", None)
        worth = f"; the question is worth {points:g} points" if isinstance(points, (int, float)) else ""
        tests_word = "test" if count == 1 else "tests"
        return _Noted(result, f"These are the public tests: grading runs {count} more {tests_word}, hidden{worth}.")

    grader.check = check_and_say_what_grading_adds
    return grader


def _hidden_counts(tests: Path) -> dict:
    """How many hidden tests each question has (`course assign` writes it beside the public tests)."""
    import json

    try:
        counts = json.loads((tests / "hidden-tests.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return counts if isinstance(counts, dict) else {}


class _Noted:
    """A check's result and one line after it: otter's own says only whether the public tests passed, and
    students read "All test cases passed!" as their grade."""

    def __init__(self, result, note: str):
        self._result, self._note = result, note

    def __getattr__(self, name):
        return getattr(self._result, name)

    def __repr__(self) -> str:
        return f"{self._result!r}\n{self._note}"

    def _repr_html_(self) -> str:
        import html

        shown = getattr(self._result, "_repr_html_", None)
        body = shown() if shown else f"<pre>{html.escape(repr(self._result))}</pre>"
        return f"{body}<p>{html.escape(self._note)}</p>"
