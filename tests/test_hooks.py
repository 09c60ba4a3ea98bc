"""The hooks run with cookiecutter's interpreter before anything is installed: standard library only."""

import stat
import subprocess
import sys

import pytest
from cookiecutter.exceptions import FailedHookException

from colab_course_tools.lessons import lesson_files
from colab_course_tools.notebooks import SETUP_TAG, read_notebook
from colab_course_tools.testing import git, python_interpreter
from conftest import bake_into

# Runs a hook like `python hook.py`, then fails it if any module outside the standard library
# (and the generated course package) was loaded.
GUARD = """\
import os, runpy, sys
hook = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    runpy.run_path(hook, run_name="__main__")
finally:
    allowed = set(sys.stdlib_module_names) | set(sys.builtin_module_names) | {"__main__", %(package)r}
    outside = sorted({name.split(".")[0] for name in sys.modules} - allowed)
    if outside:
        print("modules from outside the standard library: " + ", ".join(outside), file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)
"""


@pytest.fixture
def stdlib_only_python(tmp_path, monkeypatch):
    """Make cookiecutter run hooks in `python -I -S`: no site-packages at all, no user settings."""
    guard = tmp_path / "stdlib_only.py"
    guard.write_text(GUARD % {"package": "colab_course_tools"}, encoding="utf-8")
    wrapper = tmp_path / "stdlib-only-python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "{guard}" "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(wrapper))
    return wrapper


def test_hooks_load_nothing_outside_the_standard_library(stdlib_only_python, tmp_path, cookiecutter_config, template):
    course = bake_into(tmp_path / "out", cookiecutter_config, template)
    # The post-generation hook really ran there: setup cells written, first commit made.
    for lesson in lesson_files(course):
        first = read_notebook(lesson)["cells"][0]
        assert SETUP_TAG in first["metadata"]["tags"] and "import deep_learning_course as course" in first["source"]
    assert git(course, "rev-list", "--count", "HEAD") == "1"


def test_the_guard_catches_a_third_party_import(stdlib_only_python, tmp_path):
    """The check above can fail: a module that needs site-packages cannot even be found."""
    hook = tmp_path / "hook.py"
    hook.write_text("import yaml\n", encoding="utf-8")
    done = subprocess.run([stdlib_only_python, hook], capture_output=True, text=True)
    assert done.returncode == 1 and "No module named 'yaml'" in done.stderr
    hook.write_text("import json, sys; sys.modules['yaml'] = json\n", encoding="utf-8")
    done = subprocess.run([stdlib_only_python, hook], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (3, "modules from outside the standard library: yaml\n")


def test_an_interpreter_older_than_3_11_is_refused_before_anything_is_written(
    tmp_path, cookiecutter_config, template, monkeypatch, capfd
):
    python310 = python_interpreter("3.10")
    if python310 is None:
        pytest.skip("no Python 3.10 interpreter on this machine (pyenv or PATH)")
    monkeypatch.setattr(sys, "executable", python310)
    with pytest.raises(FailedHookException):
        bake_into(tmp_path / "out", cookiecutter_config, template)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    version = subprocess.run(
        [python310, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip()
    assert errors == [
        f"ERROR: cookiecutter runs on Python {version}; generating this course needs Python 3.11 or newer: "
        "install cookiecutter with it (e.g. `pipx install --python python3.11 cookiecutter`) and run again"
    ]
    assert not (tmp_path / "out" / "deep-learning-course").exists()
