"""A fresh course is clean under its own ruff rules (the template's own code is linted by test.sh)."""

import shutil
import subprocess
import sys

from colab_course_tools.testing import write_notebook


def ruff(course, *args):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=course, capture_output=True, text=True)


def test_default_course_passes_ruff_lint_and_format(default_course):
    lint = ruff(default_course, "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatting = ruff(default_course, "format", "--check", ".")
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


def test_lessons_are_linted_but_never_reformatted(default_course, tmp_path):
    course = shutil.copytree(default_course, tmp_path / "course", ignore=shutil.ignore_patterns(".git"))
    write_notebook(course / "lessons" / "09_untidy.ipynb", "x  =  [1,2]\nprint( x )")
    assert ruff(course, "format", "--check", ".").returncode == 0, "the formatter must leave notebooks alone"
    write_notebook(course / "lessons" / "10_typo.ipynb", "print(undefined_name)")
    lint = ruff(course, "check", ".")
    assert lint.returncode == 1 and "lessons/10_typo.ipynb" in lint.stdout and "F821" in lint.stdout
