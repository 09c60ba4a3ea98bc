"""Helpers for testing a course: build notebooks and tiny courses, run `course` and git, fake Colab,
serve files on loopback, build small datasets.

The course's own tests use them, and so do the tools' tests, the template's and benchmarks. Nothing here is imported by lessons. Each concern is a module of its own;
the names are also here, so tests import them from one place.
"""

from .colab import write_fake_colab
from .courses import (
    GIT_IDENTITY,
    PACKAGE,
    SRC,
    TOOLS,
    TOOLS_SRC,
    course_cli,
    course_env,
    git,
    python_interpreter,
    tiny_course,
)
from .datasets import mnist_sample_archive
from .exercises import ACCURACY_SOLUTION, HIDDEN_TEST, answered, exercise_lesson
from .notebooks import add_output, edit_notebook, lesson_notebook, tagged_cell, write_notebook
from .server import FileServer, closed_port_url
from .waiting import wait_for
from .warm import warm_process_for

__all__ = [
    "ACCURACY_SOLUTION",
    "GIT_IDENTITY",
    "HIDDEN_TEST",
    "PACKAGE",
    "SRC",
    "TOOLS",
    "TOOLS_SRC",
    "FileServer",
    "add_output",
    "answered",
    "closed_port_url",
    "course_cli",
    "course_env",
    "edit_notebook",
    "exercise_lesson",
    "git",
    "lesson_notebook",
    "mnist_sample_archive",
    "python_interpreter",
    "tagged_cell",
    "tiny_course",
    "wait_for",
    "warm_process_for",
    "write_fake_colab",
    "write_notebook",
]
