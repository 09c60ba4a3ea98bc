"""The course the tools' tests (``tests/tools/``) drive, and whose helpers every template test imports: the
template's defaults, baked once per test process with its hooks (so it is synced and committed, as a teacher
gets it), its ``src/`` and ``tools/src/`` put on this process's import path.

Children get both folders from ``colab_course_tools.testing.course_env()``.
"""

import atexit
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
TOOLS = "colab_course_tools"  # `python -m colab_course_tools` is the `course` command


def template_snapshot(destination):
    """The template as it would be published: files git tracks or would track, none it ignores.

    Keeps caches that local runs leave in the template (``__pycache__``, build output) out
    of the bakes. Outside a git checkout the template folder is used as it is.
    """
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=TEMPLATE,
            capture_output=True,
            text=True,
        )
        if shutil.which("git")
        else None
    )
    if not listed or listed.returncode != 0:
        return TEMPLATE
    for name in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _bake() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="course-under-test-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    config = workdir / "config.yaml"
    config.write_text(f'cookiecutters_dir: "{workdir / "templates"}"\nreplay_dir: "{workdir / "replay"}"\n')
    course = Path(
        cookiecutter(
            str(template_snapshot(workdir / "template")),
            no_input=True,
            output_dir=str(workdir),
            config_file=str(config),
        )
    )
    for folder in (course / "src", course / "tools" / "src"):
        sys.path.insert(0, str(folder))
    return course


ROOT = _bake()
PACKAGE = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["course"]["package"]
