"""What `course site` costs on the default course: a first build, and a rebuild after one lesson changed.

The lessons run once (`course test --smoke`, not timed); then, side by side in one run: a build
from nothing (the site's folders removed first), a second `course site` after one executed lesson
changed (a new output, as a rerun of that lesson gives), and the same change under a running
`course site --serve`, which keeps Sphinx loaded: there the time is from the change to the rebuilt
page, the watch's wait included. Prints a table and writes results-site.md.
Goals: a first build under 10 s on 2 cores; a rebuild well under the first build.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import bake, data_server, env_for, machine, publish, timed

RESULTS = Path(__file__).with_name("results-site.md")


def change_one_lesson(course: Path, round_number: int) -> None:
    executed = course / "build" / "executed" / "00_environment.ipynb"
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    code[-1]["outputs"].append({"output_type": "stream", "name": "stdout", "text": [f"rerun {round_number}\n"]})
    executed.write_text(json.dumps(notebook), encoding="utf-8")


def serve_rebuilds(course: Path, env: dict, course_cmd: list, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds from a changed lesson to its rebuilt page under `course site --serve`, and the seconds of
    the rebuild alone, as the command prints them."""
    server = subprocess.Popen(
        [*course_cmd, "site", "--serve", "--port", "0"], cwd=course, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        next(line for line in server.stdout if "serving http" in line)
        seconds, printed = [], []
        for round_number in range(repeat):
            started = time.perf_counter()
            change_one_lesson(course, 1000 + round_number)
            line = next(line for line in server.stdout if "rebuilt in" in line)
            seconds.append(time.perf_counter() - started)
            printed.append(float(line.split("rebuilt in ")[1].split()[0]))
        return seconds, printed
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory(prefix="bench-site-") as workdir:
        course = bake(Path(workdir))
        env = env_for(course)
        course_cmd = [sys.executable, "-m", "colab_course_tools"]
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
        served, rebuild_work = serve_rebuilds(course, env, course_cmd, repeat)
    ratio = statistics.median(a / f for a, f in zip(again, first, strict=True))
    served_ratio = statistics.median(served) / statistics.median(first)
    rows = [
        ("first build: `course site` from nothing", statistics.median(first), "< 10 s", statistics.median(first) < 10),
        (
            "rebuild: `course site` again, one lesson changed",
            statistics.median(again),
            "well under the first",
            ratio < 0.6,
        ),
        (
            "rebuild under `course site --serve`, one lesson changed",
            statistics.median(served),
            "well under the first",
            served_ratio < 0.6,
        ),
    ]
    lines = [
        "# `course site` benchmark",
        "",
        f"{machine()}; {repeat} rounds, each a first build then a rebuild; wall-clock seconds of the whole command.",
        "",
        "| what | median s | goal | met |",
        "|---|---:|---|---|",
        *(f"| {what} | {seconds:.2f} | {goal} | {'yes' if met else 'NO'} |" for what, seconds, goal, met in rows),
        "",
        f"Rebuild / first build: {ratio:.2f}x for a second `course site` (median of the paired ratios), "
        f"{served_ratio:.2f}x under `--serve` (medians). A one-off `course site` loads Sphinx, myst-nb and the "
        "theme each time, most of its cost; `--serve` loads them once and rebuilds only the changed page. Under "
        f"`--serve` the rebuild itself took {statistics.median(rebuild_work):.2f} s (median, as printed); the rest "
        "is the wait for the next look at the files (every 0.5 s). Its first rebuild also loads Sphinx.",
        "",
        f"- first: {', '.join(f'{s:.2f}' for s in first)}",
        f"- rebuild: {', '.join(f'{s:.2f}' for s in again)}",
        f"- rebuild under --serve: {', '.join(f'{s:.2f}' for s in served)}",
    ]
    publish(RESULTS, lines)


if __name__ == "__main__":
    main()
