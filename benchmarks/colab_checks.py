"""A lesson's check cells on Colab's Jupyter stack, and what installing otter-grader costs there.

Builds a Python 3.12 venv with Colab's IPython 7.34.0 and ipykernel 6.17.1 (and nothing of the
course), installs otter-grader into it as a lesson with exercises does in Colab (every installed
package pinned), then runs a student version's check cell, renamed as Drive renames a copy and in
another folder, in that venv's kernel. Prints a table and writes results-colab-checks.md.
Needs pyenv's (or PATH's) python3.12 and a package index; no test runs it.

    python benchmarks/colab_checks.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import bake, course_helpers, env_for, publish

RESULTS = Path(__file__).with_name("results-colab-checks.md")
COLAB_STACK = ["ipython==7.34.0", "ipykernel==6.17.1", "jupyter-client==7.4.9", "nbclient", "nbformat", "numpy"]
RUN_COPY = """
import json, sys, IPython, ipykernel, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
checks = [cell.outputs[0]["data"]["text/plain"] for cell in notebook.cells if cell.source.startswith("grader.check(")]
print(json.dumps({"ipython": IPython.__version__, "ipykernel": ipykernel.__version__, "checks": checks}))
"""


def pip(venv: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args], check=True)
    return time.perf_counter() - started


def freeze(venv: Path) -> set[str]:
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True)
    return set(done.stdout.split())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-colab-checks-") as workdir:
        work = Path(workdir)
        course = bake(work)
        env = env_for(course)
        testing = course_helpers(course)
        python312 = testing.python_interpreter("3.12")
        if python312 is None:
            raise SystemExit("no Python 3.12 here: install it (pyenv install 3.12)")
        lesson = course / "lessons" / "03_exercises.ipynb"
        lesson.write_text(json.dumps(testing.exercise_lesson()), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "colab_course_tools", "assign"], cwd=course, env=env, check=True)
        copy = testing.answered(
            course / "student" / "lessons" / "03_exercises.ipynb",
            work / "drive" / "03_exercises (1).ipynb",
            {"accuracy": "accuracy = 2.5"},
        )
        venv = work / "colab"
        subprocess.run([python312, "-m", "venv", str(venv)], check=True)
        stack_seconds = pip(venv, *COLAB_STACK)
        before = freeze(venv)
        pins = work / "pins.txt"
        pins.write_text("\n".join(sorted(before)) + "\n")
        otter_seconds = pip(venv, "--constraint", str(pins), "otter-grader>=7.0")
        added = sorted(freeze(venv) - before)
        ran = subprocess.run(
            [str(venv / "bin" / "python"), "-c", RUN_COPY, str(copy)],
            cwd=copy.parent,
            env={**env, "COURSE_ROOT": str(course)},
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(ran.stdout.strip().splitlines()[-1])
    lines = [
        "# Check cells on Colab's Jupyter stack",
        "",
        f"Python 3.12 venv with IPython {result['ipython']}, ipykernel {result['ipykernel']} (Colab's), "
        "and none of the course's packages; installs from the package index this machine reaches.",
        "",
        "| what | value |",
        "|---|---:|",
        f"| install the Colab-like Jupyter stack (not timed by the course) | {stack_seconds:.1f} s |",
        f"| install otter-grader, every installed package pinned | {otter_seconds:.1f} s |",
        f"| packages it added | {len(added)} |",
        "",
        "The check cell of a student version, renamed `03_exercises (1).ipynb` in another folder, printed:",
        "",
        "```",
        *result["checks"],
        "```",
        "",
        "Packages added: " + ", ".join(added),
        "",
        "Colab's image already has many of them (pandas, requests, Jinja2, nbconvert, ...), so a real",
        "runtime adds fewer; only a live Colab shows its exact cost.",
    ]
    publish(RESULTS, lines)


if __name__ == "__main__":
    main()
