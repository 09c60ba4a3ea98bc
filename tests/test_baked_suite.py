"""The default course passes its own test suite, run as a teacher would run it (same interpreter)."""

import os
import subprocess
import sys

import pytest

from conftest import bake_into, venv_seeing_these_packages

TEACHERS_MODULE = '''"""The teacher's own code, beside the template's modules: nothing lists it, nothing tests it but the teacher."""

import torch


def tiny_model(classes: int = 10) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, classes))
'''


@pytest.mark.slow
def test_default_course_passes_its_own_tests_with_a_module_the_teacher_added(tmp_path, cookiecutter_config, template):
    """The course's tests test the course: a module the teacher adds to the course's package (importing torch at
    the top, as teachers write) needs no edit to any file the template owns and fails none of them."""
    course = bake_into(tmp_path, cookiecutter_config, template)
    (course / "src" / "deep_learning_course" / "models.py").write_text(TEACHERS_MODULE, encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "COURSE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(course / "tools" / "src"), str(course / "src")])
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


@pytest.mark.slow
def test_the_installer_tests_pass_in_a_venv_that_reaches_its_packages_through_a_pth_file(default_course, tmp_path):
    """What a newcomer had: a venv whose site-packages holds only a .pth file naming another one. The course's
    installer tests build their own runtime and must give it what the installer needs explicitly."""
    venv = venv_seeing_these_packages(tmp_path / "venv", pip=False)
    python = venv / "bin" / "python"
    # ... and the course's tools, as `pip install -e ./tools` names them: through a .pth file of their own
    (packages,) = {path.parent for path in venv.glob("lib/python*/site-packages/outer.pth")}
    packages.joinpath("colab_course_tools.pth").write_text(str(default_course / "tools" / "src") + "\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "COURSE_"))}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_installer.py"],
        cwd=default_course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
