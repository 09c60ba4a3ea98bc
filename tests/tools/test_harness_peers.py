"""`course test` against plain papermill, on test notebooks in the manner of papermill's and nbmake's own
and on hostile lessons: the outcome of each, and where (and why) the two differ.

Every notebook runs twice: in one `course test -n 2` over all of them, and alone through
`python -m papermill` with this interpreter's `python3` kernel. papermill's outcome is outside
truth about the notebook; ours must match it except where the table says why not.
"""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from colab_course_tools.testing import course_env, lesson_notebook, tiny_course
from course_under_test import TOOLS

R_KERNEL = {"name": "ir", "language": "R", "display_name": "R"}

# name: (cells, our status, our one-line error (a part of it), papermill passes?, why they differ)
PEERS = {
    "passes": (["x = 1", "print(x)"], "passed", "", True, ""),
    "fails": (["raise ValueError('boom')"], "failed", "ValueError: boom", False, ""),
    "raises_exception_tag": (
        [(["raises-exception"], "raise ValueError('expected')"), "print('after')"],
        "passed",
        "",
        False,
        "the tag says the error is expected: nbclient and nbmake agree, papermill does not",
    ),
    "skip_execution_tag": ([(["skip-execution"], "raise ValueError('never runs')"), "x = 1"], "passed", "", True, ""),
    "sys_exit_0": (
        ["import sys", "sys.exit(0)", "print('after')"],
        "failed",
        "stopped at cell 2 by sys.exit(0); 1 cell not run",
        True,
        "a lesson that stops early is not a pass",
    ),
    "raise_systemexit": (
        ["raise SystemExit", "x = 1"],
        "failed",
        "stopped at cell 1 by sys.exit(); 1 cell not run",
        True,
        "same",
    ),
    "bad_magic": (["%no_such_magic_for_course_tests"], "failed", "UsageError: Line magic function", False, ""),
    "capture_fails": (
        ["x = !false", "print('after')"],
        "failed",
        "CommandFailed: `false` exited with status 1",
        True,
        "IPython ignores the status of captured shell commands; a lesson relying on one would go on without it",
    ),
    "double_bang_fails": (["!!exit 4"], "failed", "CommandFailed: `exit 4` exited with status 4", True, "same"),
    "sx_fails": (
        ["%sx ls /no/such/folder"],
        "failed",
        "CommandFailed: `ls /no/such/folder` exited with status 2: ls: cannot access",
        True,
        "same",
    ),
    "system_fails": (["%system false"], "failed", "CommandFailed: `false` exited with status 1", True, "same"),
    "bang_fails": (
        ["!echo to stderr >&2; exit 3"],
        "failed",
        "CommandFailed: `echo to stderr >&2; exit 3` exited with status 3: to stderr",
        True,
        "IPython keeps the status in `_exit_code` only",
    ),
    "message_after_newline": (
        ["raise ValueError('\\nthe real message')"],
        "failed",
        "ValueError: the real message",
        False,
        "",
    ),
    "input": (["input('name? ')"], "failed", "StdinNotImplementedError", False, ""),
    "fence_in_source": (
        ["text = '```'\nraise RuntimeError(text + ' breaks out')"],
        "failed",
        "RuntimeError: ``` breaks out",
        False,
        "",
    ),
    "kernel_kills_itself": (
        ["import os, signal", "os.kill(os.getpid(), signal.SIGKILL)"],
        "failed",
        "the kernel died (killed by SIGKILL)",
        False,
        "",
    ),
    "env_before_import": (
        [  # -n 2 gives each lesson 1 thread; a lesson that asks for 2 before importing torch gets 2
            "import os\nfor name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):\n    os.environ[name] = '2'",
            "import torch\nassert torch.get_num_threads() == min(2, os.cpu_count()), torch.get_num_threads()",
        ],
        "passed",
        "",
        True,
        "",
    ),
    "skipped_import_hangs": ([(["skip-execution"], "import hangs_on_import"), "x = 1"], "passed", "", True, ""),
    "skipped_import_exits": ([(["skip-execution"], "import exits_on_import"), "x = 1"], "passed", "", True, ""),
    "r_kernel": (["x <- 1"], "failed", "r_kernel.ipynb is written for the R kernel (R), not Python", False, ""),
}
BROKEN = {  # files that are no notebook at all
    "corrupt": ('{"cells": [', "cannot read notebook"),
    "empty": ("", "cannot read notebook"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    names = list(PEERS) + list(BROKEN)
    lessons = {
        f"{number:02d}_{name}": lesson_notebook(*PEERS[name][0], kernelspec=R_KERNEL if name == "r_kernel" else None)
        for number, name in enumerate(names)
        if name in PEERS
    }
    course = tiny_course(tmp_path_factory.mktemp("peers") / "course", lessons)
    for number, name in enumerate(names):
        if name in BROKEN:
            (course / "lessons" / f"{number:02d}_{name}.ipynb").write_text(BROKEN[name][0])
    (course / "lessons" / "hangs_on_import.py").write_text("import time\ntime.sleep(600)\n")
    (course / "lessons" / "exits_on_import.py").write_text("import os\nos._exit(3)\n")
    ours = subprocess.run(
        [sys.executable, "-m", TOOLS, "test", "-n", "2", "--cell-timeout", "120"],
        cwd=course,
        env=course_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = json.loads((course / "build" / "report.json").read_text())

    def papermill(path):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                str(path),
                str(path.with_suffix(".papermill.ipynb")),
                "--cwd",
                str(path.parent),
                "--execution-timeout",
                "60",
            ],
            env=course_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done.returncode == 0

    notebooks = sorted(path for path in (course / "lessons").glob("*.ipynb") if ".papermill" not in path.name)
    with ThreadPoolExecutor(2) as pool:
        theirs = dict(
            zip((path.stem.split("_", 1)[1] for path in notebooks), pool.map(papermill, notebooks), strict=True)
        )
    return SimpleNamespace(
        course=course,
        ours=ours,
        theirs=theirs,
        results={entry["lesson"].split("_", 1)[1]: entry for entry in report["lessons"]},
        markdown=(course / "build" / "report.md").read_text(),
    )


@pytest.mark.parametrize("name", PEERS)
def test_outcome_as_expected_and_papermill_agrees_unless_we_say_why(runs, name):
    _, status, error, papermill_passes, why = PEERS[name]
    result = runs.results[name]
    assert result["status"] == status, result
    assert error in result["error"], result["error"]
    assert runs.theirs[name] is papermill_passes, f"plain papermill {'passed' if runs.theirs[name] else 'failed'}"
    if (status == "passed") != papermill_passes:
        assert why, "where we differ from papermill, the table says why"


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_notebook_fails_alone_and_the_others_still_run(runs, name):
    result = runs.results[name]
    assert result["status"] == "failed" and BROKEN[name][1] in result["error"]
    assert runs.theirs[name] is False
    assert runs.results["passes"]["status"] == "passed"


def test_the_report_keeps_every_reason_inside_its_block(runs):
    assert runs.ours.returncode == 1
    markdown = runs.markdown
    assert "**UsageError: Line magic function" in markdown
    assert "to stderr" in markdown  # what the failing command printed is in the report
    in_fence = False
    for line in markdown.splitlines():  # every fence opened is closed by a fence of the same length
        if line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
            in_fence = False if in_fence == fence else (in_fence or fence)
    assert in_fence is False
