"""How long it takes to bake a course with the defaults (goal: under 1 s).

Times `cookiecutter <template> --no-input` as a teacher types it (a fresh process) and the
bake alone through the Python API (what the template tests pay per bake), each with and
without the first git commit. Prints a table and writes benchmarks/results-bake.md.

    python benchmarks/bake.py [--repeat 5]
"""

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results-bake.md")
GOAL_SECONDS = 1.0


def bake_cli(output, config, init_git):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(TEMPLATE),
            "--no-input",
            "-o",
            str(output),
            "--config-file",
            str(config),
            f"init_git={init_git}",
        ],
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def hook_output_hidden():
    """Silence the hooks' "next steps" (child processes writing to file descriptor 1)."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def bake_api(output, config, init_git):
    with hook_output_hidden():
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(output),
            config_file=str(config),
            extra_context={"init_git": init_git},
        )


def median_seconds(bake, init_git, repeat, workdir, config):
    times = []
    for run in range(repeat):
        output = workdir / f"{bake.__name__}-{init_git}-{run}"
        start = time.perf_counter()
        bake(output, config, init_git)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="bakes per row (median reported)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = workdir / "config.yaml"
        config.write_text(f'replay_dir: "{workdir / "replay"}"\ncookiecutters_dir: "{workdir / "t"}"\n')
        for label, bake in [
            ("`cookiecutter --no-input` (new process)", bake_cli),
            ("Python API, in process", bake_api),
        ]:
            for init_git in ("no", "yes"):
                median, low, high = median_seconds(bake, init_git, args.repeat, workdir, config)
                rows.append((label, init_git, median, low, high))
    table = [
        "| how | init_git | median s | min s | max s | under 1 s |",
        "|---|---|---|---|---|---|",
        *(
            f"| {label} | {init_git} | {median:.3f} | {low:.3f} | {high:.3f} | {'yes' if median < GOAL_SECONDS else 'NO'} |"
            for label, init_git, median, low, high in rows
        ),
    ]
    machine = (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; "
        f"{args.repeat} bakes per row, defaults otherwise."
    )
    text = "\n".join(["# Bake time with the default answers", "", machine, "", *table, ""])
    print(text)
    RESULTS.write_text(text, encoding="utf-8")
    return 0 if all(median < GOAL_SECONDS for _, _, median, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
