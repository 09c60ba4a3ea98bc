"""Where a sweep's trials run: on this machine, on a Dask cluster, or on Slurm through submitit.

A trial is always the same `course run` process; only the machine that starts it changes. On Dask
and Slurm, ``run_trial`` starts it on a worker, and its results land in the course's ``build/runs``
as a local run's do: the workers must see the course folder and its Python environment at the same
paths (a shared filesystem), as they usually do on a university cluster. A trial stops, as Ctrl-C
stops a run, when the sweep writes its stop file there; queued trials are cancelled on the engine.

- ``local``: this machine, ``-n`` runs at a time.
- ``dask``: a ``distributed.LocalCluster`` sized to the machine (or ``-n`` workers), one trial per
  worker process; ``dask://HOST:PORT``: an existing scheduler. Needs the ``[dask]`` extra.
- ``slurm``: one Slurm job per trial through submitit (partition, time, GPUs and account from
  ``[tool.course.slurm]`` or flags); ``submitit-local``: submitit's local executor, the same path
  on this machine. Needs the ``[slurm]`` extra.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from ..errors import CourseError
from ..harness.limits import RUN_STOP_GRACE_S

STOP_POLL_S = 0.1  # how soon a stop request, or the end of a child, is seen
ENGINES = "local, dask, dask://HOST:PORT, slurm or submitit-local"


def run_course_child(command: list[str], cwd, env: dict, *, stop, on_line=None) -> tuple[int, str]:
    """A `course` child (a run of a sweep, a grading on an engine) in a process group of its own, so an interrupt
    reaches it and what it started. Once ``stop()`` is true it is interrupted as Ctrl-C would (SIGINT to its
    group), and killed if it is still there ``RUN_STOP_GRACE_S`` later. ``on_line`` sees each line it prints and
    returns True for one it took (a progress line); the others are the output. Returns its exit status and output."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output: list[str] = []

    def read():
        for line in process.stdout:
            if on_line is None or not on_line(line):
                output.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stopped_at = None
    while process.poll() is None:
        if stopped_at is None and stop():
            stopped_at = time.monotonic()
            _signal_group(process, signal.SIGINT)
        elif stopped_at is not None and time.monotonic() - stopped_at > RUN_STOP_GRACE_S:
            _signal_group(process, signal.SIGKILL)
        time.sleep(STOP_POLL_S)
    reader.join(timeout=5)
    return process.returncode, "".join(output)


def run_trial(command: list[str], cwd: str, env: dict, stop_file: str) -> tuple[int, str]:
    """One `course` child on whichever machine runs this (an engine's worker); it stops when ``stop_file`` appears."""
    return run_course_child(command, cwd, env, stop=lambda: os.path.exists(stop_file))


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Signal the child and what it started (Windows has no process groups: the child itself)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:
            process.terminate()
    except ProcessLookupError:
        pass


class Engine:
    """This machine: the sweep starts its runs itself, with live progress. The other engines add
    ``submit(command, cwd, env, stop_file)``, a handle whose ``result()`` is ``run_trial``'s."""

    name = "local"

    def cancel(self, handles) -> None:
        pass

    def close(self) -> None:
        pass


class DaskEngine(Engine):
    def __init__(self, address: str | None, workers: int):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise CourseError("--on dask needs Dask: pip install -e '.[dask]'") from None
        self.name = f"dask://{address}" if address else "dask"
        if address:
            self.cluster = None
            try:
                self.client = Client(f"tcp://{address}", timeout="10s")
            except OSError as error:
                raise CourseError(f"--on dask://{address}: no Dask scheduler answers there ({error})") from None
        else:
            dask.config.set({"distributed.scheduler.allowed-failures": 0})  # a dead worker fails its trial
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            self.client = Client(self.cluster)

    def submit(self, command, cwd, env, stop_file):
        return self.client.submit(run_trial, command, cwd, env, stop_file, pure=False)

    def cancel(self, handles) -> None:
        self.client.cancel(list(handles))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class SubmititEngine(Engine):
    def __init__(self, folder: Path, *, local: bool, slurm: dict):
        try:
            import submitit
        except ImportError:
            raise CourseError("--on slurm needs submitit: pip install -e '.[slurm]'") from None
        if local:
            self.name = "submitit-local"
            self.executor = submitit.LocalExecutor(folder=str(folder))
            self.executor.update_parameters(timeout_min=int(slurm.get("time") or 60))
        else:
            if shutil.which("sbatch") is None:
                raise CourseError(
                    "--on slurm needs Slurm's sbatch, which is not on this machine's PATH: run the sweep on the "
                    "cluster's login node, or use --on dask"
                )
            self.name = "slurm"
            self.executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
            self.executor.update_parameters(**_slurm_parameters(slurm))

    def submit(self, command, cwd, env, stop_file):
        return self.executor.submit(run_trial, command, cwd, env, stop_file)

    def cancel(self, handles) -> None:
        for job in handles:
            job.cancel(check=False)


def _slurm_parameters(slurm: dict) -> dict:
    """submitit's names for ``[tool.course.slurm]``: partition, time (minutes), gpus, account."""
    parameters = {"timeout_min": int(slurm.get("time") or 60), "nodes": 1, "tasks_per_node": 1}
    if slurm.get("partition"):
        parameters["slurm_partition"] = str(slurm["partition"])
    if slurm.get("gpus"):
        parameters["gpus_per_node"] = int(slurm["gpus"])
    if slurm.get("account"):
        parameters["slurm_account"] = str(slurm["account"])
    return parameters


def engine_for(on: str, *, folder: Path, workers: int, slurm: dict) -> Engine:
    """The engine ``--on`` names."""
    if on == "local":
        return Engine()
    if on == "dask":
        return DaskEngine(None, workers or os.cpu_count() or 1)  # one worker process per core, or -n
    if on.startswith("dask://"):
        address = on.removeprefix("dask://")
        if ":" not in address:
            raise CourseError(f"--on {on}: give the scheduler as dask://HOST:PORT, e.g. dask://10.0.0.5:8786")
        return DaskEngine(address, workers)
    if on in ("slurm", "submitit-local"):
        return SubmititEngine(folder, local=on == "submitit-local", slurm=slurm)
    raise CourseError(f"--on {on}: give {ENGINES}")
