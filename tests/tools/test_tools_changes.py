"""A change to the tools reruns no lesson unless it changes what a run does (``harness.cache.RUN_SHAPING``).

The tools run from a copy of their folder, edited as a tools update would edit them; the course's own package is
the default course's, untouched."""

import shutil
import subprocess
import sys

from colab_course_tools.testing import SRC, lesson_notebook, tiny_course
from course_under_test import ROOT, TOOLS


def course_test(course, tools):
    env = {"PYTHONPATH": f"{tools / 'src'}:{SRC}", "PATH": "/usr/bin:/bin", "HOME": str(course.parent)}
    done = subprocess.run(
        [sys.executable, "-m", TOOLS, "test", "--smoke", "-q"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def append(path, line):
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_a_tools_change_reruns_a_lesson_only_when_it_changes_what_a_run_does(tmp_path):
    course = tiny_course(tmp_path / "course", {"00_quick": lesson_notebook("print(6 * 7)", parameters="smoke = False")})
    tools = tmp_path / "tools"
    shutil.copytree(ROOT / "tools", tools, ignore=shutil.ignore_patterns("__pycache__"))
    package = tools / "src" / TOOLS

    assert "1 lesson: 1 passed" in course_test(course, tools)
    assert "1 lesson: 1 cached" in course_test(course, tools)

    # What no run can see: the report's code, the command line, the site, the version.
    append(package / "harness" / "report.py", "# a fix to the report")
    append(package / "cli.py", "# a fix to the command line")
    append(package / "site" / "pages.py", "# a fix to the website")
    init = package / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8").replace('__version__ = "', '__version__ = "9'), encoding="utf-8")
    assert "1 lesson: 1 cached" in course_test(course, tools)

    # What every run executes in its kernel beside the lesson: the lesson runs again.
    append(package / "harness" / "in_kernel.py", "# a change to what runs in the kernel")
    assert "1 lesson: 1 passed" in course_test(course, tools)
    assert "1 lesson: 1 cached" in course_test(course, tools)

    # How parameters are read and injected: again.
    append(package / "parameters.py", "# a change to how parameters are injected")
    assert "1 lesson: 1 passed" in course_test(course, tools)
