"""How long `import <package>` takes in a baked course (goal: under 50 ms).

The setup cell of every lesson imports the package, so it must not pull in torch or
fastai. Bakes the default course into a temporary folder, then starts fresh interpreters:
`python -c pass` (bare start) and `python -c "import <package>"`; the import cost is the
difference of the medians. Also reports the import timed inside the interpreter and the
slowest modules from `python -X importtime`. Prints a table and writes
benchmarks/results-import.md.

    python benchmarks/import_time.py [--repeat 21]
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bake import hook_output_hidden  # benchmarks/bake.py
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results-import.md")
GOAL_MS = 50.0
# wall and CPU seconds of the import alone; CPU time barely changes when other processes share the machine
TIMED_IMPORT = (
    "import time; w, c = time.perf_counter(), time.process_time(); import {package}; "
    "print(time.perf_counter() - w, time.process_time() - c)"
)


def bake(workdir: Path) -> tuple[Path, str]:
    """The default course, baked without git; returns (its src/ folder, the package name)."""
    config = workdir / "config.yaml"
    config.write_text(f'replay_dir: "{workdir / "replay"}"\ncookiecutters_dir: "{workdir / "t"}"\n')
    with hook_output_hidden():
        project = Path(
            cookiecutter(
                str(TEMPLATE),
                no_input=True,
                output_dir=str(workdir),
                config_file=str(config),
                extra_context={"init_git": "no"},
            )
        )
    (package,) = [p.name for p in (project / "src").iterdir() if (p / "__init__.py").is_file()]
    return project / "src", package


def wall_ms(code: str, env: dict, repeat: int) -> list[float]:
    """Wall time of `python -c code` in fresh interpreters, one per repeat."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def in_process_ms(package: str, env: dict, repeat: int) -> tuple[list[float], list[float]]:
    """The import timed inside each fresh interpreter (no interpreter start in it): wall and CPU ms."""
    code = TIMED_IMPORT.format(package=package)
    wall, cpu = [], []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
        wall_s, cpu_s = map(float, out.split())
        wall.append(wall_s * 1000)
        cpu.append(cpu_s * 1000)
    return wall, cpu


def slowest_modules(package: str, env: dict, count: int = 8) -> list[tuple[str, float]]:
    """Modules with the largest cumulative import time under the package, from `-X importtime`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {package}"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and len(match[3]) <= 5:  # the package, its modules and what they import directly
            rows.append((match[4], int(match[2]) / 1000))
    return sorted(rows, key=lambda row: -row[1])[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="fresh interpreters per row (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, package = bake(Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(src)}
        bare = wall_ms("pass", env, args.repeat)
        imported = wall_ms(f"import {package}", env, args.repeat)
        inside, inside_cpu = in_process_ms(package, env, args.repeat)
        heavy = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys, {package}; print(sorted(m for m in ('torch', 'fastai', 'numpy') if m in sys.modules))",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        slowest = slowest_modules(package, env)
    cost = statistics.median(imported) - statistics.median(bare)
    verdict = "yes" if cost < GOAL_MS else "NO"
    table = [
        "| measurement | median ms | min ms | max ms |",
        "|---|---|---|---|",
        *(
            f"| {label} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |"
            for label, values in [
                ("`python -c pass` (bare interpreter start)", bare),
                (f"`python -c 'import {package}'`", imported),
                ("import timed inside the interpreter (wall)", inside),
                ("import timed inside the interpreter (CPU)", inside_cpu),
            ]
        ),
        f"| **import cost** (difference of medians; goal < {GOAL_MS:.0f} ms: {verdict}) | **{cost:.1f}** | | |",
    ]
    report = "\n".join(
        [
            "# `import <package>` time in the default course",
            "",
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; "
            f"{args.repeat} fresh interpreters per row.",
            "",
            *table,
            "",
            f"Heavy libraries loaded by the import: {heavy}.",
            "",
            "Largest cumulative import times (`python -X importtime`, one run):",
            "",
            "| module | cumulative ms |",
            "|---|---|",
            *(f"| `{name}` | {ms:.1f} |" for name, ms in slowest),
            "",
        ]
    )
    print(report)
    RESULTS.write_text(report)


if __name__ == "__main__":
    main()
