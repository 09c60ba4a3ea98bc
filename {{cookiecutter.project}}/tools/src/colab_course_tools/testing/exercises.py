"""A lesson with exercises in otter's markers (numpy only, so a kernel runs it in a second or two),
and a student's answers put into its student version."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import write_json
from .courses import PACKAGE
from .notebooks import lesson_notebook

ACCURACY_SOLUTION = "accuracy = np.trace(cm) / cm.sum()"
HIDDEN_TEST = "assert abs(accuracy - 13 / 16) < 1e-9, 'not the share of the diagonal'"


def exercise_lesson() -> dict:
    """Two questions: ``accuracy`` (a public and a hidden test, 2 points) and ``total`` (1 hidden test)."""
    return lesson_notebook(
        f"import {PACKAGE} as course\nimport numpy as np\ncm = np.array([[5, 1], [2, 8]])",
        ("raw", "# BEGIN QUESTION\nname: accuracy\npoints: 2"),
        ("md", "**Exercise 1.** The accuracy: the share of the diagonal in `cm`."),
        ("raw", "# BEGIN SOLUTION"),
        f"{ACCURACY_SOLUTION}  # SOLUTION",
        ("raw", "# END SOLUTION"),
        ("raw", "# BEGIN TESTS"),
        'def test_share(accuracy):\n    """a share"""\n    assert 0 <= float(accuracy) <= 1, f"not a share: {accuracy!r}"\n\n\ntest_share(accuracy)',
        f"# HIDDEN\ndef test_value(accuracy):\n    {HIDDEN_TEST}\n\n\ntest_value(accuracy)",
        ("raw", "# END TESTS"),
        ("raw", "# END QUESTION"),
        ("raw", "# BEGIN QUESTION\nname: total\npoints: 1"),
        ("md", "**Exercise 2.** How many examples does `cm` count?"),
        ("raw", "# BEGIN SOLUTION"),
        "total = int(cm.sum())  # SOLUTION",
        ("raw", "# END SOLUTION"),
        ("raw", "# BEGIN TESTS"),
        "# HIDDEN\ndef test_total(total):\n    assert total == 16\n\n\ntest_total(total)",
        ("raw", "# END TESTS"),
        ("raw", "# END QUESTION"),
        'print("the end")',
    )


def answered(student: Path, target: Path, answers: dict[str, str]) -> Path:
    """A copy of the student version at ``target`` with each ``name = ...`` line replaced as ``answers`` says."""
    notebook = json.loads(Path(student).read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for name, answer in answers.items():
            source = source.replace(f"{name} = ...", answer)
        cell["source"] = source
    write_json(target, notebook)
    return target
