"""Metric bands on a freshly baked default course: what recording costs, what checking costs, and how far a broken
lesson lands from the band compared with honest runs.

1. Recording: `course bands record --runs 5 -n 2` of every lesson, smoke-sized (lesson 02's data from a local HTTP
   server; its band is not kept: that data is a stand-in).
2. Checking: `course test 01 --smoke --force` with the band check and with `--no-bands`, alternated, paired.
3. Margins: 20 honest runs with new seeds (`course bands record 01 --runs 21`: its first run has the lesson's own
   seed, left out here) and lesson 01 broken four ways that
   raise nothing (as tests/tools/test_bands_lessons.py breaks it), against the shipped band: per metric, the honest
   spread and the distance from the band's edge to the nearest broken run.

Prints the tables and writes benchmarks/results-bands.md.

    python benchmarks/bands.py [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import bake, data_server, env_for, machine, publish, timed

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from tools.lesson_breaks import BREAKS, LESSON  # noqa: E402  (the test's breaks, not a copy)

RESULTS = Path(__file__).with_name("results-bands.md")


def course_command(*args) -> list[str]:
    return [sys.executable, "-m", "colab_course_tools", *args]


def broken_copies(course: Path) -> list[str]:
    """Lesson 01 broken each way as a lesson of its own, with 01's band (the same parameters)."""
    bands_file = course / "lesson-bands.json"
    data = json.loads(bands_file.read_text())
    for name, (line, broken) in BREAKS.items():
        notebook = json.loads((course / "lessons" / f"{LESSON}.ipynb").read_text())
        for cell in notebook["cells"]:
            source = "".join(cell["source"]).replace(line, broken).replace('f"digits-{', f'f"{name}-{{')
            cell["source"] = source
        (course / "lessons" / f"{name}.ipynb").write_text(json.dumps(notebook))
        data["bands"][name] = data["bands"][LESSON]
    bands_file.write_text(json.dumps(data))
    return list(BREAKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-bands-"))
    try:
        course = bake(workdir)
        env = env_for(course)
        shipped = json.loads((course / "lesson-bands.json").read_text())["bands"][LESSON]["smoke-cpu"]
        lines = [f"# Metric bands: recording, checking, margins ({machine()})", ""]

        with data_server(course) as data:
            data_args = [arg for name, value in data.items() for arg in ("-p", name, value)]
            record = course_command("bands", "record", "--runs", "5", "-n", "2", "-q", *data_args)
            seconds = timed(record, course, env)
        lessons = len(list((course / "lessons").glob("*.ipynb")))
        lines += [
            "## 1. Recording",
            "",
            f"`course bands record --runs 5 -n 2` of the default course's {lessons} lessons, smoke-sized, warm starts: "
            f"**{seconds:.1f} s** for {lessons * 5} runs.",
            "",
        ]

        checked, unchecked = [], []
        test = course_command("test", LESSON, "--smoke", "--force", "-q")
        timed(test, course, env)  # the first run writes the digit images: not paired
        for _ in range(args.pairs):
            checked.append(timed(test, course, env))
            unchecked.append(timed([*test, "--no-bands"], course, env))
        ratios = [a / b for a, b in zip(checked, unchecked, strict=True)]
        lines += [
            "## 2. Checking (paired)",
            "",
            "| `course test 01 --smoke --force` | median s |",
            "|---|---|",
            f"| with the band check | {statistics.median(checked):.2f} |",
            f"| `--no-bands` | {statistics.median(unchecked):.2f} |",
            "",
            f"Median of {args.pairs} paired ratios: **{statistics.median(ratios):.3f}** "
            f"(range {min(ratios):.3f} to {max(ratios):.3f}).",
            "",
        ]

        (course / "lesson-bands.json").write_text(
            json.dumps({"format": 1, "bands": {LESSON: {"smoke-cpu": shipped}}})
        )  # the shipped band, as committed, for what follows
        honest_file = course / "honest.json"
        started = time.perf_counter()
        timed(course_command("bands", "record", LESSON, "--runs", "21", "-n", "2", "-q"), course, env)
        honest_seconds = time.perf_counter() - started
        honest = json.loads((course / "lesson-bands.json").read_text())["bands"][LESSON]["smoke-cpu"]
        honest["metrics"] = {name: {"runs": m["runs"][1:]} for name, m in honest["metrics"].items()}  # new seeds only
        honest_file.write_text(json.dumps(honest))
        (course / "lesson-bands.json").write_text(json.dumps({"format": 1, "bands": {LESSON: {"smoke-cpu": shipped}}}))
        names = broken_copies(course)
        shutil.rmtree(course / "build", ignore_errors=True)
        done = subprocess.run(
            course_command("test", *names, "--smoke", "-n", "2", "-q"),
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
        )
        rows = {row["lesson"]: row for row in json.loads((course / "build" / "report.json").read_text())["lessons"]}
        lines += [
            "## 3. Honest runs and broken ones against the shipped band",
            "",
            f"Shipped band: {shipped['recorded']['runs']} runs (seeds {shipped['recorded']['seeds']}), recorded "
            f"{shipped['recorded']['date']} on {shipped['recorded']['device']}. 20 honest runs with new seeds took "
            f"{honest_seconds:.0f} s; the broken lessons' `course test` exited {done.returncode}.",
            "",
            "Honest runs: each metric's band, the 20 new seeds' lowest to highest and their sd, how many left the band, "
            "and how far inside the band's edge the nearest honest run stayed (in honest sd):",
            "",
            "| metric | band | honest runs (20): min to max | sd | outside | nearest honest run inside the edge |",
            "|---|---|---|---|---|---|",
        ]
        spreads = {}
        for metric, limits in shipped["metrics"].items():
            values = honest["metrics"][metric]["runs"]
            sd = spreads[metric] = statistics.stdev(values)
            outside = sum(not limits["low"] <= v <= limits["high"] for v in values)
            inside = min(min(v - limits["low"], limits["high"] - v) for v in values)
            lines.append(
                f"| {metric} | {limits['low']:.4g} to {limits['high']:.4g} | {min(values):.4g} to {max(values):.4g} "
                f"| {sd:.3g} | {outside} of 20 | {inside:.4g} ({inside / sd:.1f} sd) |"
            )
        lines += [
            "",
            "Broken runs: each metric's value, and how far beyond its band's edge (in honest sd; negative: inside); "
            "a lesson fails when any metric is outside.",
            "",
            "| break | " + " | ".join(shipped["metrics"]) + " | verdict |",
            "|---|" + "---|" * len(shipped["metrics"]) + "---|",
        ]
        for name in names:
            cells = []
            for metric, limits in shipped["metrics"].items():
                value = rows[name].get("metrics", {}).get(metric)
                beyond = max(limits["low"] - value, value - limits["high"])
                cells.append(f"{value:.4g} ({beyond / spreads[metric]:+.1f} sd)")
            verdict = rows[name]["band"]["state"] if rows[name].get("band") else rows[name]["status"]
            lines.append(f"| {name.split('_', 1)[1]} | " + " | ".join(cells) + f" | {verdict} |")
        publish(RESULTS, lines)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
