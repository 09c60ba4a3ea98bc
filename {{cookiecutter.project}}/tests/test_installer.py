"""What a runtime lacks is installed with the smallest change: real pip, offline, from wheels built here.

The packages mirror what Colab's 2026.07 runtime had: `demo-fastai` 2.8.7 beside `demo-fastcore` 2.0.5
(fastai 2.8.7 with fastcore 2.0.5 crashes in `fit_one_cycle`), and a course whose floor is 2.8.8.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import packaging
import pytest

from conftest import PACKAGE, ROOT
from {{ cookiecutter.package }} import installer
from {{ cookiecutter.package }}.errors import CourseError


def course_with(tmp_path, dependencies):
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\ndependencies = [" + ", ".join(repr(d) for d in dependencies) + "]\n"
    )
    return tmp_path


def test_missing_requirements_lists_absent_and_too_old_but_never_torch(tmp_path):
    root = course_with(
        tmp_path,
        [
            "packaging>=1",  # present and new enough
            "pytest>=999",  # present, too old
            "torch>=999",
            "torchvision>=999",
            "ipykernel>=999",  # look too old, but the runtime's own builds stay
            "surely-not-installed-course-dependency>=1",
            "packaging>=999; python_version < '3'",  # not for this Python
        ],
    )
    assert installer.missing_requirements(root) == ["pytest>=999", "surely-not-installed-course-dependency>=1"]


def test_nothing_missing_means_no_pip_call(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    assert installer.install_missing(ROOT) == []  # this environment has every course dependency
    assert calls == []


def test_failed_install_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # a real pip run that cannot find the package, offline
    root = course_with(tmp_path, ["surely-not-installed-course-dependency>=1"])
    with pytest.raises(
        CourseError, match="pip could not install surely-not-installed-course-dependency.*rerun the setup cell"
    ):
        installer.install_missing(root)
    assert "Installing what this runtime lacks: surely-not-installed-course-dependency>=1" in capsys.readouterr().out


def test_unreadable_pyproject_is_one_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(CourseError, match="pyproject.toml.*restore it"):
        installer.missing_requirements(tmp_path)


def wheel(folder: Path, name: str, version: str, requires=()) -> Path:
    """A pure-Python wheel with just metadata and an empty module."""
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{name.replace('-', '_')}/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires),
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: course-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}.dist-info/RECORD"] = "\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n"
    target = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return target


# The two installs below share one runtime, in this order: one worker runs them.
INSTALLS = pytest.mark.xdist_group("installer")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A venv like Colab's 2026.07 runtime, and a wheelhouse with the newer releases."""
    tmp = tmp_path_factory.mktemp("runtime")
    wheels = tmp / "wheels"
    wheels.mkdir()
    wheel(wheels, "demo-fastcore", "2.0.5")
    wheel(wheels, "demo-fastcore", "2.2.39")
    wheel(wheels, "demo-fastai", "2.8.7", ["demo-fastcore>=1.8"])
    wheel(wheels, "demo-fastai", "2.8.8", ["demo-fastcore>=1.14.6"])
    wheel(wheels, "demo-fastai", "2.8.12", ["demo-fastcore>=2.2.30"])
    wheel(wheels, "demo-tool", "1.0", ["demo-fastcore>=2.2"])
    wheel(wheels, "demo-checker", "1.0")  # the [exercises] extra of test_an_extra_is_installed_only_when_asked...
    wheel(wheels, "demo-widgets", "7.7.1")  # as Colab's ipywidgets ...
    wheel(wheels, "demo-widgets", "8.1.9")
    wheel(wheels, "demo-grader", "1.0", ["demo-widgets>=8.1.5"])  # ... which otter-grader would upgrade
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The course's installer needs `packaging`: give the runtime the folder this interpreter imports it from
    # (not this venv's purelib, which holds nothing when its packages come through a .pth file of its own).
    Path(site, "zz_course_test_env.pth").write_text(str(Path(packaging.__file__).resolve().parents[1]) + "\n")
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONPATH": str(ROOT / "src"),
    }
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "demo-fastai==2.8.7", "demo-fastcore==2.0.5", "demo-widgets==7.7.1"],
        env=env,
        check=True,
    )
    return python, env


def install(runtime, root) -> tuple[str, dict]:
    python, env = runtime
    code = (
        f"import json, importlib.metadata as m; from pathlib import Path; from {PACKAGE}.installer import install_missing\n"
        "install_missing(Path(%r))\n"
        "print(json.dumps({n: m.version(n) for n in ('demo-fastai', 'demo-fastcore', 'demo-tool') "
        "if any(d.metadata['Name'] == n for d in m.distributions())}))"
    ) % str(root)
    done = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    *lines, versions = done.stdout.strip().splitlines()
    return "\n".join(lines), json.loads(versions)


@INSTALLS
def test_a_too_old_package_is_raised_to_the_floor_without_touching_its_neighbours(runtime, tmp_path):
    said, versions = install(runtime, course_with(tmp_path, ["demo-fastai>=2.8.8"]))
    assert said == "Installing what this runtime lacks: demo-fastai>=2.8.8 (2.8.7 installed)"
    # The newest release (2.8.12) would have upgraded demo-fastcore: the pinned runtime gets 2.8.8 alone.
    assert versions == {"demo-fastai": "2.8.8", "demo-fastcore": "2.0.5"}


@INSTALLS
def test_when_the_runtime_as_it_is_cannot_take_it_the_neighbours_move(runtime, tmp_path):
    said, versions = install(runtime, course_with(tmp_path, ["demo-tool>=1"]))
    assert said == "Installing what this runtime lacks: demo-tool>=1"
    assert versions["demo-tool"] == "1.0" and versions["demo-fastcore"] == "2.2.39"


@INSTALLS
def test_an_extra_is_installed_only_when_asked_and_with_the_runtime_pinned(runtime, tmp_path):
    """What a lesson with exercises does in Colab: the `[exercises]` extra, pinned like the rest."""
    root = course_with(tmp_path, [])
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[project.optional-dependencies]\nexercises = ["demo-checker>=1"]\n')
    said, versions = install(runtime, root)
    assert said == ""  # the setup cell's install leaves extras alone
    python, env = runtime
    code = (
        f"from pathlib import Path; from {PACKAGE}.installer import install_missing\n"
        "install_missing(Path(%r), extra='exercises'); import demo_checker; print(demo_checker.__version__)"
    )
    done = subprocess.run([python, "-c", code % str(root)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["Installing what this runtime lacks: demo-checker>=1", "1.0"]


@INSTALLS
def test_a_lessons_checks_install_in_one_pip_call_that_moves_no_package_of_the_runtime(runtime, tmp_path):
    """What a student's first check cell does in Colab: the `[checks]` extra, exactly what is missing and no
    dependency (otter-grader's own requirements would upgrade Colab's ipywidgets and wrapt)."""
    root = course_with(tmp_path, [])
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[project.optional-dependencies]\nchecks = ["demo-grader>=1", "demo-widgets>=7"]\n'
    )
    python, env = runtime
    code = (
        f"import importlib.metadata as m, subprocess; from pathlib import Path; from {PACKAGE}.installer import install_missing\n"
        "calls = []; real = subprocess.run\n"
        "subprocess.run = lambda *a, **k: calls.append(a[0]) or real(*a, **k)\n"
        "install_missing(Path(%r), extra='checks', without_dependencies=True)\n"
        "print(len(calls), m.version('demo-grader'), m.version('demo-widgets'))"
    )
    done = subprocess.run([python, "-c", code % str(root)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # one pip call; demo-grader in; demo-widgets as the runtime had it, though demo-grader asks for 8.1.5
    assert done.stdout.splitlines() == ["Installing what this runtime lacks: demo-grader>=1", "1 1.0 7.7.1"]
