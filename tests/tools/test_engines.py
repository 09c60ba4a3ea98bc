"""`course sweep --on ENGINE`: the same runs on a real Dask cluster (distributed's LocalCluster) and
through submitit's local executor as here, Ctrl-C cancelling what the engine still queues, a dead
Dask worker failing only its own run, and Slurm refused in one line where sbatch is missing.

Without the engines' packages these tests skip with the reason, except in CI (``CI=true``), where
they fail.
"""

import csv
import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from colab_course_tools import metrics_file as metrics
from colab_course_tools.testing import lesson_notebook, tiny_course, wait_for
from course_under_test import TOOLS

from .test_experiments import PROBE_CODE, PROBE_PARAMETERS, WAIT_CODE, WAIT_PARAMETERS, _processes_of, _read

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")

# Kills the Dask worker running this trial: the parent of its `course run` process.
DIE_CODE = """\
import os, signal, psutil
if die:
    run = next(p for p in psutil.Process().parents() if " run " in " ".join(p.cmdline()))
    os.kill(run.ppid(), signal.SIGKILL)
"""
DIE_PARAMETERS = 'smoke = True\nepochs = 1\nbatch_size = 1\nseed = 0\ndevice = "auto"\ndie = False\n'


EXTRA_OF = {"dask": "dask", "distributed": "dask", "submitit": "slurm"}  # the extra that installs each module


def need(*modules):
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        extras = " and ".join(dict.fromkeys(f'pip install -e ".[{EXTRA_OF[name]}]"' for name in missing))
        message = f"{', '.join(missing)} not installed ({extras})"
        pytest.fail(f"{message} (CI must run the engine tests)") if IN_CI else pytest.skip(message)


@pytest.fixture
def course(tmp_path):
    return tiny_course(
        tmp_path / "course",
        {
            "01_probe": lesson_notebook(PROBE_CODE, parameters=PROBE_PARAMETERS),
            "02_wait": lesson_notebook(WAIT_CODE, parameters=WAIT_PARAMETERS),
            "03_die": lesson_notebook(DIE_CODE, parameters=DIE_PARAMETERS),
        },
    )


def table_rows(course, lesson, newest=True):
    tables = sorted((course / "build" / "runs" / lesson).glob("sweep-*.csv"), key=lambda path: path.stat().st_mtime)
    return list(csv.DictReader(tables[-1 if newest else 0].open(encoding="utf-8")))


def test_a_sweep_on_dask_and_on_submitit_gives_the_table_of_a_local_one(course, course_cli):
    need("distributed", "submitit")
    tables = {}
    for engine in ("local", "dask", "submitit-local"):
        ran = course_cli("sweep", "01", "-p", "lr", "0.01,0.03", "-n", "2", "--full", "--on", engine, cwd=course)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert engine == "local" or f"of 01_probe on {engine}" in ran.stdout
        tables[engine] = [
            {key: row[key] for key in ("lr", "status", "accuracy", "lr_seen", "best")}
            for row in table_rows(course, "01_probe")
        ]
    assert tables["local"][0]["status"] == "passed" and tables["local"][1]["best"] == "best"
    assert tables["dask"] == tables["local"] and tables["submitit-local"] == tables["local"]
    listed = course_cli("runs", "01", cwd=course)
    assert listed.stdout.count("| passed |") == 6  # `course runs` shows them as local runs


def test_ctrl_c_cancels_the_queued_runs_on_dask_and_leaves_none_running(course, subprocess_env):
    need("distributed")
    lesson_runs = course / "build" / "runs" / "02_wait"
    sweep = subprocess.Popen(
        [sys.executable, "-m", TOOLS, "sweep", "02", "-p", "seed", "0,1,2", "--on", "dask", "-n", "1"],
        cwd=course,
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        started = lambda: [  # noqa: E731
            d for d in lesson_runs.glob("sweep-*-*") if d.is_dir() and metrics.read_metrics(d)["history"]
        ]
        wait_for(lambda: started() or sweep.poll() is not None, 120, "the first run's first epoch")
        os.killpg(sweep.pid, signal.SIGINT)
        output, _ = sweep.communicate(timeout=90)
    finally:
        sweep.kill()
    assert sweep.returncode == 130, output
    [first] = started()
    assert _read(first / "run.json")["status"] == "interrupted"
    assert len([d for d in lesson_runs.glob("sweep-*-*") if d.is_dir() and (d / "run.json").exists()]) == 1
    wait_for(lambda: not _processes_of(first), 15, "the interrupted run's processes to exit")
    statuses = sorted(row["status"] for row in table_rows(course, "02_wait"))
    assert statuses == ["cancelled", "cancelled", "interrupted"], statuses


def test_a_dask_worker_that_dies_fails_its_run_and_the_others_finish(course, course_cli):
    need("distributed")
    ran = course_cli("sweep", "03", "-p", "die", "False,True,False", "--on", "dask", "-n", "2", cwd=course)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    rows = table_rows(course, "03_die")
    assert [row["die"] for row in rows] == ["False", "True", "False"]
    assert rows[0]["status"] == "passed" and rows[2]["status"] == "passed"
    assert rows[1]["status"] != "passed", rows[1]


def test_slurm_without_sbatch_is_one_line(course, course_cli, subprocess_env):
    need("submitit")
    env = {**subprocess_env, "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"}
    ran = course_cli("sweep", "01", "-p", "lr", "0.01,0.03", "--on", "slurm", cwd=course, env=env)
    assert ran.returncode == 1
    (line,) = ran.stderr.strip().splitlines()
    assert "needs Slurm's sbatch, which is not on this machine's PATH" in line
