"""What `course grade` costs: 20 returned notebooks of lesson 01 on the default course, 2 workers.

The submissions are the student version with the teacher's answers (full points), a half-right
one and an untouched one, in turn. Side by side in one run: `course test 01 --smoke` (the teacher's
lesson, once) and `course grade` of the 20 (smoke parameters, as `course grade` runs by default).
Prints a table and writes results-grading.md. No goal was set; the table says what a grading run
of a class costs on 2 cores.

    python benchmarks/grading.py [--submissions 20]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

from harness import bake, course_helpers, env_for, machine, publish, timed

RESULTS = Path(__file__).with_name("results-grading.md")
RIGHT = {
    "accuracy_from_matrix": "accuracy_from_matrix = confusion.trace() / confusion.sum()",
    "recall_per_digit": "recall_per_digit = confusion.diagonal() / confusion.sum(axis=1)",
}
HALF = {"accuracy_from_matrix": "accuracy_from_matrix = 0.5", "recall_per_digit": RIGHT["recall_per_digit"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    count = parser.parse_args().submissions
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as workdir:
        course = bake(Path(workdir))
        env = env_for(course)
        testing = course_helpers(course)
        course_cmd = [sys.executable, "-m", "colab_course_tools"]
        timed([*course_cmd, "assign"], course, env)
        student = course / "student" / "lessons" / "01_first_model.ipynb"
        returned = Path(workdir) / "returned"
        for number in range(count):
            answers = (RIGHT, HALF, {})[number % 3]
            testing.answered(student, returned / f"student_{number:02d}.ipynb", answers)
        one_lesson = timed([*course_cmd, "test", "01", "--smoke", "--force", "-q"], course, env)
        grading = timed([*course_cmd, "grade", str(returned), "-n", "2", "-q"], course, env)
        with open(course / "build" / "grades.csv", newline="", encoding="utf-8") as rows:
            totals: dict[str, float] = {}
            for row in csv.DictReader(rows):
                totals[row["submission"]] = totals.get(row["submission"], 0.0) + float(row["points"] or 0)
    expected = [(4.0, 3.0, 0.0)[number % 3] for number in range(count)]
    right = sum(totals.get(f"student_{n:02d}.ipynb") == want for n, want in enumerate(expected))
    lines = [
        "# `course grade` benchmark",
        "",
        f"{machine()}; "
        f"{count} submissions of lesson 01 (smoke parameters), 2 workers; wall-clock seconds of the whole command.",
        "",
        "| what | seconds |",
        "|---|---:|",
        f"| `course test 01 --smoke` (the teacher's lesson, once) | {one_lesson:.1f} |",
        f"| `course grade` of {count} submissions, `-n 2` | {grading:.1f} |",
        f"| per submission | {grading / count:.1f} |",
        "",
        f"Grading {count} submissions took {grading / one_lesson:.1f}x one run of the lesson: each submission is a "
        "fresh kernel that imports fastai and trains the smoke model, two at a time.",
        f"{right} of {count} submissions got the points their answers deserve (4, 3 or 0 of 4).",
    ]
    publish(RESULTS, lines)


if __name__ == "__main__":
    main()
