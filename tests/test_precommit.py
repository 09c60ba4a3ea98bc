"""The baked course's pre-commit hooks, run for real: outputs get stripped, a changed setup cell is refused."""

import sys

import pytest

from colab_course_tools.lessons import lesson_files
from colab_course_tools.notebooks import PARAMETERS_TAG
from colab_course_tools.testing import add_output as add_cell_output
from colab_course_tools.testing import edit_notebook, tagged_cell
from conftest import import_path, run, tool_env


@pytest.fixture
def course(bake, tmp_path):
    """A freshly baked course (a git repository with its first commit) and the environment to work in it."""
    course = bake()
    assert (course / ".git").is_dir(), "the post-generation hook should have made the first commit"
    return course, tool_env(tmp_path, PYTHONPATH=import_path(course))


def pre_commit(course, env, *args):
    return run([sys.executable, "-m", "pre_commit", *args], course, env, check=False)


def add_output(notebook):
    cell = tagged_cell(notebook, PARAMETERS_TAG)
    add_cell_output(cell)
    cell["metadata"]["executionInfo"] = {"status": "ok"}


def test_fresh_course_passes_every_hook(course):
    course, env = course
    result = pre_commit(course, env, "run", "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "strip notebook outputs" in result.stdout and "course check" in result.stdout
    assert "Skipped" not in result.stdout


def test_outputs_are_stripped_back_to_the_committed_notebook(course):
    course, env = course
    lesson = lesson_files(course)[0]
    edit_notebook(lesson, add_output)
    result = pre_commit(course, env, "run", "--all-files")
    assert result.returncode == 1
    assert "files were modified by this hook" in result.stdout
    run(["git", "diff", "--exit-code", "--", lesson], course, env)  # byte for byte what was committed
    assert pre_commit(course, env, "run", "--all-files").returncode == 0


def test_changed_setup_cell_fails_the_hook_and_blocks_the_commit(course):
    course, env = course
    lesson = lesson_files(course)[-1]
    edit_notebook(lesson, lambda nb: nb["cells"][0].update(source=nb["cells"][0]["source"] + "\nprint('my own setup')"))
    result = pre_commit(course, env, "run", "--all-files")
    assert result.returncode == 1
    assert (
        f"lessons/{lesson.name}: the setup cell differs from the canonical one; fix: run `course sync`" in result.stdout
    )

    run([sys.executable, "-m", "pre_commit", "install"], course, env)
    head = run(["git", "rev-parse", "HEAD"], course, env).stdout
    commit = run(["git", "commit", "-am", "Customise the setup cell"], course, env, check=False)
    assert commit.returncode != 0
    assert "the setup cell differs" in commit.stdout + commit.stderr
    assert run(["git", "rev-parse", "HEAD"], course, env).stdout == head


def test_the_first_commit_of_a_ran_lesson_goes_through_as_the_readme_says(course):
    """What a newcomer met: committing a lesson with outputs stops ("files were modified by this hook");
    the README's next step, `git add` and commit again, commits the lesson without its outputs."""
    course, env = course
    run([sys.executable, "-m", "pre_commit", "install"], course, env)
    lesson = lesson_files(course)[0]
    edit_notebook(lesson, add_output)
    edit_notebook(lesson, lambda nb: nb["cells"][1].update(source=nb["cells"][1]["source"] + "\n\nMy notes."))
    first = run(["git", "commit", "-am", "Notes on lesson 00"], course, env, check=False)
    assert first.returncode != 0 and "files were modified by this hook" in first.stdout + first.stderr
    run(["git", "add", str(lesson)], course, env)
    again = run(["git", "commit", "-m", "Notes on lesson 00"], course, env, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    committed = run(["git", "show", f"HEAD:{lesson.relative_to(course).as_posix()}"], course, env).stdout
    assert "My notes." in committed and '"output_type"' not in committed and '"execution_count": 7' not in committed
