"""Shared fixtures. The package is imported from src/ (see pytest `pythonpath`), installed or not.

The helpers and the fixtures live in the course's tools (``colab_course_tools.testing``), which the tools' own
tests use too.
"""

from pathlib import Path

from colab_course_tools import testing

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = testing.PACKAGE

pytest_plugins = ["colab_course_tools.testing.fixtures"]  # subprocess_env, course_cli, the loopback data server


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
