"""Courses for tests: a tiny course folder, `course` and git run as a user would, other Pythons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .. import notebooks
from ..config import load_config
from ..git import GitFailed
from ..git import git as run_git

TOOLS = __package__.rpartition(".")[0]  # `python -m colab_course_tools` is the `course` command
TOOLS_SRC = Path(__file__).resolve().parents[2]
COURSE = TOOLS_SRC.parents[1]  # the course these tools sit in (<course>/tools/src/colab_course_tools)
SRC = COURSE / "src"
PACKAGE = load_config(COURSE).package  # the course's own package, which lessons import
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Course Author",
    "GIT_AUTHOR_EMAIL": "teacher@example.com",
    "GIT_COMMITTER_NAME": "Course Author",
    "GIT_COMMITTER_EMAIL": "teacher@example.com",
}


def tiny_course(root: Path, lessons: dict[str, dict] | None = None, *, title: str = "Tiny course", **settings) -> Path:
    """A course repository with a valid ``[tool.course]`` table and the given lessons (name -> notebook).

    ``settings`` are more ``[tool.course]`` values (``memory_budget_gb=0.5``). ``src/`` holds only a
    ``helper.py``; lessons import the course package (``PACKAGE``, of the course these tools sit in) from this
    interpreter.
    """
    root = Path(root)
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    (root / "pyproject.toml").write_text(
        "[tool.course]\n"
        f"title = {json.dumps(title, ensure_ascii=False)}\n"
        f'package = "{PACKAGE}"\n'
        'github_user = "teacher"\ngithub_repo = "tiny-course"\nbranch = "main"\ndrive_folder = "courses/tiny"\n'
        + "".join(f"{name} = {json.dumps(value)}\n" for name, value in settings.items()),
        encoding="utf-8",
    )
    (root / ".gitignore").write_text("data/\nbuild/\ncheckpoints/\n", encoding="utf-8")
    for name, notebook in (lessons or {}).items():
        path = root / "lessons" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        notebooks.write_notebook(path, notebook)
    return root


def course_env(**extra: str) -> dict:
    """This environment for a child that runs the tools and the course's code from their ``src/`` folders:
    no leftover ``COURSE_*`` settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("COURSE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOOLS_SRC), str(SRC), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def course_cli(*args, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `course ARGS...` in ``cwd`` through this interpreter, as a user would; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", TOOLS, *map(str, args)],
        cwd=cwd,
        env=env or course_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    """Run git in ``repo`` with a fixed identity and no user or system config; its output, or AssertionError."""
    environment = {**(env or os.environ), **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    environment.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
    try:
        return run_git(repo, "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args, env=environment)
    except GitFailed as failure:
        raise AssertionError(f"git {' '.join(args)} failed in {repo}: {failure}") from None


def python_interpreter(version: str) -> str | None:
    """An interpreter of Python ``version`` (``"3.12"``) on this machine: on PATH or under pyenv; None if absent."""
    import glob
    import shutil

    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")))
    found = shutil.which(f"python{version}")
    for path in [*reversed(candidates), *([found] if found else [])]:
        probe = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return path
    return None
