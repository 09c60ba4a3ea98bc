"""What otter's markers say in a teacher's lesson: its questions, the solution code, the hidden tests.

Read without otter (a raw cell's first line is the marker), so `course check` stays fast and needs
no grading tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import notebooks

SIGNIFICANT_CHARS = 12  # shorter solution lines (``x = 1``, ``return y``) are too common to call a leak


@dataclass
class Exercises:
    """The exercise parts of one lesson; ``questions`` empty: the lesson has no exercise."""

    questions: list[str] = field(default_factory=list)
    solution_lines: list[str] = field(default_factory=list)
    hidden_tests: list[str] = field(default_factory=list)  # each test cell's code, as written

    def secret_lines(self) -> list[str]:
        """Lines that must never reach a student: solution code and hidden tests, the latter also as otter
        writes them into test files (``ast.unparse``: ``1e-9`` becomes ``1e-09``)."""
        hidden = [line for test in self.hidden_tests for line in [*test.splitlines()[1:], *_unparsed(test)]]
        lines = {line.strip() for line in [*self.solution_lines, *hidden]}
        return sorted(line for line in lines if len(line) >= SIGNIFICANT_CHARS)


def read_exercises(notebook: dict) -> Exercises:
    found = Exercises()
    region = None  # "solution" or "tests", between their BEGIN and END raw cells
    for cell in notebooks.cells(notebook):
        source = notebooks.cell_source(cell)
        marker = source.strip().splitlines()[0].strip().upper() if source.strip() else ""
        if cell["cell_type"] == "raw" and marker.startswith("# BEGIN QUESTION"):
            found.questions.append(_question_name(source))
        elif cell["cell_type"] == "raw" and marker in ("# BEGIN SOLUTION", "# BEGIN TESTS"):
            region = marker.split()[-1].lower()
        elif cell["cell_type"] == "raw" and marker in ("# END SOLUTION", "# END TESTS"):
            region = None
        elif cell["cell_type"] == "code" and region == "tests":
            if "HIDDEN" in marker:
                found.hidden_tests.append(source)
        elif cell["cell_type"] == "code":  # otter strips marked lines in solution cells; elsewhere they would leak
            found.solution_lines += _solution_lines(source)
    return found


def _question_name(source: str) -> str:
    for line in source.splitlines()[1:]:
        key, _, value = line.partition(":")
        if key.strip() == "name":
            return value.strip()
    return ""


def _solution_lines(source: str) -> list[str]:
    """Lines marked ``# SOLUTION`` and lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` in a cell."""
    lines, inside = [], False
    for line in source.splitlines():
        mark = line.strip().upper()
        if mark.startswith("# BEGIN SOLUTION"):
            inside = True
        elif mark.startswith("# END SOLUTION"):
            inside = False
        elif inside or mark.endswith("# SOLUTION"):
            lines.append(line.rsplit("# SOLUTION", 1)[0] if mark.endswith("# SOLUTION") else line)
    return lines


def _unparsed(source: str) -> list[str]:
    import ast

    try:
        return ast.unparse(ast.parse(source)).splitlines()
    except (SyntaxError, ValueError):
        return []


def skeleton_cells() -> list[dict]:
    """One exercise in otter's markers, for `course new --exercise` to start from."""

    def raw(source: str, id: str) -> dict:
        return {"cell_type": "raw", "id": id, "metadata": {}, "source": source}

    public = (
        'def test_is_a_number(answer):\n    """the answer is a number"""\n'
        '    assert isinstance(answer, (int, float)), f"expected a number, not {answer!r}"\n\n\n'
        "test_is_a_number(answer)"
    )
    hidden = "# HIDDEN\ndef test_value(answer):\n    assert answer == 42\n\n\ntest_value(answer)"
    return [
        raw("# BEGIN QUESTION\nname: answer\npoints: 1", "exercise-begin"),
        notebooks.markdown_cell("**Exercise.** Ask the question here.", id="exercise-prompt"),
        raw("# BEGIN SOLUTION", "exercise-solution"),
        notebooks.code_cell("answer = 42  # SOLUTION", id="exercise-answer"),
        raw("# END SOLUTION", "exercise-solution-end"),
        raw("# BEGIN TESTS", "exercise-tests"),
        notebooks.code_cell(public, id="exercise-public-test"),
        notebooks.code_cell(hidden, id="exercise-hidden-test"),
        raw("# END TESTS", "exercise-tests-end"),
        raw("# END QUESTION", "exercise-end"),
    ]
