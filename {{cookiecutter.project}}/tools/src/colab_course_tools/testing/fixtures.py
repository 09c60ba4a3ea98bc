"""The fixtures every course test suite shares, as a pytest plugin: the course's own tests and the tools' tests
load it with ``pytest_plugins = ["colab_course_tools.testing.fixtures"]``.

``course_cli`` runs in the course these tools sit in (``courses.COURSE``), unless told where.
"""

import hashlib
import signal

import pytest

from .courses import COURSE, course_env
from .courses import course_cli as run_course_cli
from .datasets import mnist_sample_archive
from .server import FileServer

# pytest started in the background of a script (`pytest &`) inherits SIGINT ignored, and so would
# every process a test starts; the Ctrl-C tests need what a terminal gives: SIGINT handled.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def subprocess_env():
    """Environment for child processes (kernels, `python -m colab_course_tools`) that import the course and its tools."""
    return course_env()


@pytest.fixture
def course_cli(subprocess_env):
    """Run `course ...` as a user would, through the current interpreter (in the course unless told)."""

    def run(*args, cwd=COURSE, env=None, timeout=600):
        return run_course_cli(*args, cwd=cwd, env=env or subprocess_env, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def mnist_sample_server():
    """Serves a small MNIST_SAMPLE-shaped archive over real HTTP on 127.0.0.1; yields its url and sha256."""
    from types import SimpleNamespace

    archive = mnist_sample_archive()
    with FileServer({"mnist_sample-test.tgz": archive}) as server:
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
