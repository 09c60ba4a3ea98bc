"""What `course site` costs on the default course: a first build, and a rebuild after one lesson changed.

The lessons run once (`course test --smoke`, not timed); then, side by side in one run: a build
from nothing (the site's folders removed first) and a rebuild after one executed lesson changed (a
new output, as a rerun of that lesson gives). Prints a table and writes results-site.md.
Goals: a first build under 10 s on 2 cores; a rebuild well under the first build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from harness import bake, data_server, env_for, timed

RESULTS = Path(__file__).with_name("results-site.md")


def change_one_lesson(course: Path, round_number: int) -> None:
    executed = course / "build" / "executed" / "00_environment.ipynb"
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    notebook["cells"][-1].setdefault("outputs", []).append(
        {"output_type": "stream", "name": "stdout", "text": [f"rerun {round_number}\n"]}
    )
    executed.write_text(json.dumps(notebook), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory(prefix="bench-site-") as workdir:
        course = bake(Path(workdir))
        env = env_for(course)
        course_cmd = [sys.executable, "-m", "deep_learning_course"]
        with data_server(course) as data:
            parameters = [word for name, value in data.items() for word in ("-p", name, value)]
            timed([*course_cmd, "test", "--smoke", "-n", "2", "-q", *parameters], course, env)
        first, again = [], []
        for round_number in range(repeat):
            for name in ("site", "site-source", "site-doctrees"):
                timed(["rm", "-rf", str(course / "build" / name)], course, env)
            first.append(timed([*course_cmd, "site"], course, env))
            change_one_lesson(course, round_number)
            again.append(timed([*course_cmd, "site"], course, env))
    ratio = statistics.median(a / f for a, f in zip(again, first, strict=True))
    rows = [
        ("first build: `course site` from nothing", statistics.median(first), "< 10 s", statistics.median(first) < 10),
        ("rebuild after one lesson changed", statistics.median(again), "well under the first", ratio < 0.6),
    ]
    lines = [
        "# `course site` benchmark",
        "",
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{repeat} rounds, each a first build then a rebuild; wall-clock seconds of the whole command.",
        "",
        "| what | median s | goal | met |",
        "|---|---:|---|---|",
        *(f"| {what} | {seconds:.2f} | {goal} | {'yes' if met else 'NO'} |" for what, seconds, goal, met in rows),
        "",
        f"Rebuild / first build, median of the paired ratios: {ratio:.2f}x.",
        "",
        f"- first: {', '.join(f'{s:.2f}' for s in first)}",
        f"- rebuild: {', '.join(f'{s:.2f}' for s in again)}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
