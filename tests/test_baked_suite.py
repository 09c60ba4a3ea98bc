"""The default course passes its own test suite, run as a teacher would run it (same interpreter)."""

import os
import subprocess
import sys

import pytest

from conftest import bake_into


@pytest.mark.slow
def test_default_course_passes_its_own_tests(tmp_path, cookiecutter_config, template):
    course = bake_into(tmp_path, cookiecutter_config, template)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "COURSE_"))}
    env["PYTHONPATH"] = str(course / "src")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    failures = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert result.returncode == 0, "\n".join([*failures, result.stdout[-4000:], result.stderr[-2000:]])
    assert " passed" in result.stdout.splitlines()[-1]
