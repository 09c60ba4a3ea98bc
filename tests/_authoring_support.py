"""Shared by the tests that drive a baked course with git, pre-commit and cruft as a teacher would."""
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

BIN = Path(sys.executable).parent


def tool_env(tmp_path, **extra):
    """Child-process environment: this venv's tools first on PATH, a git identity, private tool caches."""
    env = dict(os.environ)
    env.update(
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
        GIT_AUTHOR_NAME="Course Author", GIT_AUTHOR_EMAIL="teacher@example.com",
        GIT_COMMITTER_NAME="Course Author", GIT_COMMITTER_EMAIL="teacher@example.com",
        GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"), GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-cache"),
        **extra,
    )
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    env.pop("COURSE_ROOT", None)
    return env


def run(args, cwd, env, check=True):
    """Run a command; on an unexpected exit code fail with its whole output."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def course_cli(course, env, *args, check=True):
    """`course ...` in a baked course, its package imported from src/ (no install needed)."""
    env = dict(env, PYTHONPATH=str(course / "src"))
    return run([sys.executable, "-m", course_package(course), *args], course, env, check=check)


def course_package(course):
    return tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["course"]["package"]


def edit_notebook(path, change):
    """Change a notebook in memory and save it the way Jupyter (nbformat) does."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    change(notebook)
    path.write_text(json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def lessons(course):
    return sorted((course / "lessons").glob("[0-9]*.ipynb"))
