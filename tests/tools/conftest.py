"""Fixtures of the tools' tests: they drive the default course (``course_under_test.ROOT``) and tiny courses
with the tools' own helpers (``colab_course_tools.testing``)."""

import hashlib
import signal

import pytest

from colab_course_tools import testing
from course_under_test import ROOT

# pytest started in the background of a script (`pytest &`) inherits SIGINT ignored, and so would
# every process a test starts; the Ctrl-C tests need what a terminal gives: SIGINT handled.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def subprocess_env():
    """Environment for child processes (kernels, `python -m colab_course_tools`) that import the course and its tools."""
    return testing.course_env()


@pytest.fixture
def course_cli(subprocess_env):
    """Run `course ...` as a user would, through the current interpreter (in the default course unless told)."""

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
