"""Shared fixtures. The package is imported from src/ (see pytest `pythonpath`), installed or not."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "{{ cookiecutter.package }}"


@pytest.fixture
def subprocess_env():
    """Environment for child processes (kernels, `python -m <package>`) that import the course package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("COURSE_ROOT", None)
    return env


@pytest.fixture
def course_cli(subprocess_env):
    """Run `course ...` as a user would, through the current interpreter."""
    import subprocess

    def run(*args, cwd=ROOT, env=None, timeout=600):
        return subprocess.run(
            [sys.executable, "-m", PACKAGE, *map(str, args)],
            cwd=cwd, env=env or subprocess_env, capture_output=True, text=True, timeout=timeout,
        )

    return run
