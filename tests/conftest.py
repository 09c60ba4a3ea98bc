"""Bake the template for real (cookiecutter's Python API) into temporary folders.

`pytest --fast` skips the slow tests (running a baked course's own test suite);
the default run runs everything.

The helpers for driving a course (notebook editing, `course` runs, git, a loopback file
server) are the course's tools' own: ``colab_course_tools.testing`` from a bake of the defaults
(``course_under_test``), put on ``sys.path`` for every test module.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from course_under_test import TEMPLATE, template_snapshot

# The course's test fixtures (subprocess_env, course_cli, the loopback data server), for the tools' tests.
pytest_plugins = ["colab_course_tools.testing.fixtures"]
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
CHOICE_KEYS = [key for key, value in DEFAULTS.items() if isinstance(value, list) and not key.startswith("_")]
BIN = Path(sys.executable).parent


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true", help="skip slow tests (baked course suites)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a baked course's own tests; skipped by --fast")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--fast"):
        skip = pytest.mark.skip(reason="--fast")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory):
    """A user config of our own, so bakes never read or write ~/.cookiecutter*."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        f'cookiecutters_dir: "{home / "templates"}"\nreplay_dir: "{home / "replay"}"\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    return template_snapshot(tmp_path_factory.mktemp("template"))


def bake_into(output_dir, config_file, template=TEMPLATE, **answers):
    """Bake with these answers (the rest default) into output_dir; returns the course folder."""
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=answers,
            output_dir=str(output_dir),
            config_file=str(config_file),
        )
    )


@pytest.fixture
def bake(tmp_path, cookiecutter_config, template):
    """bake(**answers) -> a fresh course folder under tmp_path/out."""
    return lambda **answers: bake_into(tmp_path / "out", cookiecutter_config, template, **answers)


@pytest.fixture(scope="session")
def default_course(tmp_path_factory, cookiecutter_config, template):
    """One bake with every default, shared by the tests that only read it."""
    return bake_into(tmp_path_factory.mktemp("default"), cookiecutter_config, template)


def venv_seeing_these_packages(folder, *, pip=True):
    """A fresh venv whose site-packages holds only a .pth file naming this environment's: what a package index
    would give it, with nothing downloaded. Returns the venv's folder (its python is ``bin/python``)."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", *([] if pip else ["--without-pip"]), str(folder)], check=True)
    site = subprocess.run(
        [folder / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "outer.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return folder


def import_path(course):
    """``PYTHONPATH`` for a child working in ``course`` without installing it: its tools and its package."""
    return os.pathsep.join([str(course / "tools" / "src"), str(course / "src")])


def tool_env(tmp_path, **extra):
    """Child-process environment: this venv's tools first on PATH, a git identity, private tool caches."""
    from colab_course_tools.testing import GIT_IDENTITY

    env = {name: value for name, value in os.environ.items() if not name.startswith("COURSE_")}
    env.update(
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
        GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-cache"),
        **GIT_IDENTITY,
        **extra,
    )
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    return env


def run(args, cwd, env, check=True):
    """Run a command; on an unexpected exit code fail with its whole output."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result
