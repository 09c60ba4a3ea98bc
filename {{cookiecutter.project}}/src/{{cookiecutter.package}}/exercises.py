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

    from .config import find_root
    from .environment import runtime
    from .installer import install_missing

    root = Path(os.environ.get("COURSE_ROOT") or find_root())
    if runtime() in ("colab", "kaggle"):
        install_missing(root, extra="checks", without_dependencies=True)
    import otter

    return otter.Notebook(tests_dir=str(root / "student" / "tests" / lesson))
