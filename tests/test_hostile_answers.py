"""Answers full of quotes, backslashes, template and shell syntax, and non-ASCII text: typed at
cookiecutter's prompts, they end up in every generated file as typed, and every file still parses."""

import ast
import json
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from colab_course_tools.testing import git
from conftest import BIN, DEFAULTS, import_path, run, tool_env

HOSTILE = {
    "course_name": 'Курс "Глубокое" обучение \\ {{ 7*7 }} {% if 1 %}x{% endif %} $(touch PWNED) `touch PWNED` 深度学习',
    "project": "kurs",
    "package": "kurs_pkg",
    "author": 'O\'Brien "Bob" \\ {{ author }} $(touch PWNED)',
    "email": "o.brien+{{x}}@example.com",
    "github_user": "teacher",
    "github_repo": "kurs",
    "branch": 'spring"26`$(touch${IFS}PWNED)`',  # git allows all of it (not spaces)
    "drive_folder": 'courses/Курс "2026" $(touch PWNED) {{ y }}',
    "python_version": "3.11",
    "license": "MIT",
    "gpu_ci": "self-hosted",
    "init_git": "yes",
}


def typed_answers(answers):
    """The lines a teacher types at cookiecutter's prompts (choices by their number), in prompt order."""
    lines = []
    for key, default in DEFAULTS.items():
        if key.startswith("_"):
            continue
        lines.append(str(default.index(answers[key]) + 1) if isinstance(default, list) else answers[key])
    return "".join(line + "\n" for line in lines)


@pytest.fixture(scope="module")
def hostile_bake(tmp_path_factory, cookiecutter_config, template):
    """An interactive bake with HOSTILE typed in; returns (course folder, what cookiecutter printed)."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    env = tool_env(tmp_path, COOKIECUTTER_CONFIG=str(cookiecutter_config))
    done = subprocess.run(
        [BIN / "cookiecutter", template, "--output-dir", tmp_path / "out"],
        input=typed_answers(HOSTILE),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "out" / "kurs", done.stdout, tmp_path


def generated_files(course):
    return sorted(p for p in course.rglob("*") if p.is_file() and ".git" not in p.relative_to(course).parts)


def test_no_command_in_an_answer_ever_runs(hostile_bake):
    course, _, tmp_path = hostile_bake
    assert not [path for path in tmp_path.rglob("PWNED")]


def test_every_generated_file_parses(hostile_bake):
    course, _, _ = hostile_bake
    parsed = {".toml": 0, ".yml": 0, ".yaml": 0, ".json": 0, ".ipynb": 0, ".py": 0}
    for path in generated_files(course):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in (".yml", ".yaml"):
            yaml.safe_load(text)
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".ipynb":
            nbformat.validate(nbformat.reads(text, as_version=4))
        elif path.suffix == ".py":
            compile(text, str(path), "exec")
        else:
            continue
        parsed[path.suffix] += 1
    assert parsed[".toml"] and parsed[".yml"] + parsed[".yaml"] >= 4 and parsed[".ipynb"] >= 4 and parsed[".py"] > 20


def test_answers_are_stored_as_typed(hostile_bake):
    course, _, _ = hostile_bake
    pyproject = tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == HOSTILE["course_name"]
    assert pyproject["project"]["authors"] == [{"name": HOSTILE["author"], "email": HOSTILE["email"]}]
    assert pyproject["tool"]["course"] == {
        key: HOSTILE[key] for key in ("package", "github_user", "github_repo", "branch", "drive_folder")
    } | {"title": HOSTILE["course_name"], "ci_shards": 2}
    assert "\\u" not in (course / "pyproject.toml").read_text(encoding="utf-8"), "non-ASCII kept as typed"
    assert (course / "README.md").read_text(encoding="utf-8").startswith(f"# {HOSTILE['course_name']}\n")
    assert f"Copyright (c) {HOSTILE['author']}" in (course / "LICENSE").read_text(encoding="utf-8")


def test_setup_cells_hold_the_values_as_python_literals(hostile_bake):
    course, _, _ = hostile_bake
    for lesson in sorted((course / "lessons").glob("*.ipynb")):
        source = "".join(nbformat.read(lesson, as_version=4).cells[0].source)
        literals = {node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Constant)}
        assert {HOSTILE["branch"], HOSTILE["drive_folder"], HOSTILE["github_repo"]} <= literals, lesson.name


def test_the_branch_is_made_and_linked_as_typed(hostile_bake):
    course, printed, tmp_path = hostile_bake
    assert git(course, "symbolic-ref", "--short", "HEAD").strip() == HOSTILE["branch"]
    quoted = "spring%2226%60%24%28touch%24%7BIFS%7DPWNED%29%60"
    readme = (course / "README.md").read_text(encoding="utf-8")
    assert f"https://colab.research.google.com/github/teacher/kurs/blob/{quoted}/lessons/00_environment.ipynb" in readme
    assert f"/blob/{quoted}/snippets/colab_snippets.ipynb" in readme
    (push,) = [line for line in printed.splitlines() if "git push" in line]
    assert shlex.split(push) == ["git", "push", "-u", "origin", HOSTILE["branch"]]  # safe to copy and paste
    env = tool_env(tmp_path, PYTHONPATH=import_path(course))
    run([sys.executable, "-m", "colab_course_tools", "check"], course, env)  # badges and setup cells agree


def test_a_branch_git_refuses_stops_the_bake(tmp_path, cookiecutter_config, template):
    env = tool_env(tmp_path, COOKIECUTTER_CONFIG=str(cookiecutter_config))
    done = run(
        [BIN / "cookiecutter", template, "--no-input", "--output-dir", tmp_path / "out", "branch=spring..26"],
        tmp_path,
        env,
        check=False,
    )
    assert done.returncode != 0
    assert 'ERROR: branch "spring..26" is not a valid git branch name' in done.stderr
    assert not Path(tmp_path / "out" / "deep-learning-course").exists()
