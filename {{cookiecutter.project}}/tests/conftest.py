"""Shared fixtures. The package is imported from src/ (see pytest `pythonpath`), installed or not.

The helpers live in the course's tools (``colab_course_tools.testing``), which the template's tests use too.
"""

import hashlib
import signal
from pathlib import Path

import pytest
from colab_course_tools import testing

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = testing.PACKAGE

# pytest started in the background of a script (`pytest &`) inherits SIGINT ignored, and so would
# every process a test starts; the Ctrl-C tests need what a terminal gives: SIGINT handled.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class _LessonNames:
    """Name each lesson as its test starts and ends: a lesson runs for a while, and a dot says nothing."""

    def __init__(self, config):
        self.config = config

    def _say(self, nodeid: str, what: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and "test_lessons.py::" in nodeid:
            if reporter._tw.width_of_current_line:  # after pytest's dots
                reporter.write("\n")
            reporter.write_line(f"lesson {nodeid.rsplit('[', 1)[-1].rstrip(']')}: {what}")

    def pytest_runtest_logstart(self, nodeid, location):
        self._say(nodeid, "running")

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self._say(report.nodeid, f"{report.outcome} in {report.duration:.1f} s")


def pytest_configure(config):
    config.pluginmanager.register(_LessonNames(config), "course-lesson-names")


@pytest.fixture
def subprocess_env():
    """Environment for child processes (kernels, `python -m <package>`) that import the course package."""
    return testing.course_env()


@pytest.fixture
def course_cli(subprocess_env):
    """Run `course ...` as a user would, through the current interpreter (in this repository by default)."""

    def run(*args, cwd=ROOT, env=None, timeout=600):
        return testing.course_cli(*args, cwd=cwd, env=env or subprocess_env, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def mnist_sample_server():
    """Serves a small MNIST_SAMPLE-shaped archive over real HTTP on 127.0.0.1; yields its url and sha256."""
    from types import SimpleNamespace

    archive = testing.mnist_sample_archive()
    with testing.FileServer({"mnist_sample-test.tgz": archive}) as server:
        yield SimpleNamespace(url=server.url("mnist_sample-test.tgz"), sha256=hashlib.sha256(archive).hexdigest())


@pytest.fixture(scope="session")
def lesson_overrides(mnist_sample_server):
    """Parameters, besides smoke=True, that each lesson needs in a test run: {lesson stem: {name: value}}."""
    return {
        "02_data_and_checkpoints": {
            "data_url": mnist_sample_server.url,
            "data_sha256": mnist_sample_server.sha256,
        },
    }
