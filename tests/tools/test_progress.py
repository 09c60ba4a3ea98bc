"""Live progress: while a lesson runs, `course test`, `course run` and `course sweep` show its cell,
the time so far and what it last showed; one updating line on a terminal, plain lines in a log."""

import os
import pty
import select
import subprocess
import sys
import time

import pytest
from fastprogress.fastprogress import html_progress_bar, text2html_table

from colab_course_tools.harness.progress import last_output
from colab_course_tools.testing import course_env, lesson_notebook, tiny_course
from course_under_test import TOOLS

# Prints a numbered line per step, slowly enough to be seen running.
SLOW = """\
import time
for step in range(1, steps + 1):
    print(f"step {step} of {steps}", flush=True)
    time.sleep(0.6)
"""


@pytest.fixture
def course(tmp_path):
    return tiny_course(
        tmp_path / "course",
        {"01_slow": lesson_notebook("x = 1", SLOW, parameters="smoke = False\nsteps = 6\nSMOKE = {'steps': 6}")},
    )


def test_fastais_table_and_bar_as_one_line():
    """The HTML fastprogress shows in a notebook: the last epoch row and the running bar."""
    table = text2html_table(
        [["epoch", "train_loss", "valid_loss", "accuracy", "time"], ["0", "0.91", "0.80", "0.70", "00:01"]]
        + [["1", "0.52", "0.41", "0.90", "00:01"]]
    )
    bar = html_progress_bar(4, 10, "40.00% [4/10 00:02<00:03]")
    cell = {"outputs": [{"output_type": "display_data", "data": {"text/html": [table + bar]}}]}
    assert last_output(cell) == (
        "epoch 1 train_loss 0.52 valid_loss 0.41 accuracy 0.90 time 00:01 · 40.00% [4/10 00:02<00:03] (4/10)"
    )
    printed = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "loading\nbatch 1\rbatch 2\n\n"}]}
    assert last_output(printed) == "batch 2"
    assert last_output({"outputs": []}) == ""


def test_in_a_log_course_test_prints_where_each_lesson_is(course, course_cli):
    done = course_cli("test", "--smoke", cwd=course, env=course_env(COURSE_PROGRESS_S="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    progress = [line for line in done.stdout.splitlines() if line.startswith("  … 01_slow: ")]
    assert len(progress) >= 2, done.stdout
    assert any("cell 3/3" in line and ": step " in line and " of 6" in line for line in progress), progress
    assert "\r" not in done.stdout, "a log gets plain lines"


def test_quiet_shows_no_progress(course, course_cli):
    done = course_cli("test", "--smoke", "--quiet", cwd=course, env=course_env(COURSE_PROGRESS_S="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "… 01_slow" not in done.stdout and "PASS     01_slow" in done.stdout


def test_on_a_terminal_one_line_is_rewritten_in_place(course):
    """A real pseudo-terminal: the live line is redrawn with a carriage return, then cleared for the result."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", TOOLS, "test", "--smoke"],
        cwd=course,
        env=course_env(),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert process.returncode == 0, text
    redraws = [part for part in text.split("\r\x1b[K") if part.startswith("01_slow: cell ")]
    assert len(redraws) >= 2, text
    assert any(": step " in part for part in redraws), redraws
    assert "PASS     01_slow" in text


def test_course_run_and_course_sweep_show_progress_too(course, course_cli):
    env = course_env(COURSE_PROGRESS_S="1")
    done = course_cli("run", "1", cwd=course, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(line.startswith("  … 01_slow: cell ") for line in done.stdout.splitlines()), done.stdout

    done = course_cli("sweep", "1", "-p", "steps", "4,5", "-n", "2", cwd=course, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("  … sweep-")]
    assert any(": cell " in line for line in lines), done.stdout
    assert {line.split(":")[0].rsplit("-", 1)[-1] for line in lines} <= {"1", "2"}
    run_logs = list((course / "build" / "runs" / "01_slow").glob("sweep-*/course-run.log"))
    assert len(run_logs) == 2 and not any("… " in log.read_text() for log in run_logs), "progress stays out of logs"
