"""The baked default course on a CUDA GPU: every lesson at full parameters, and lesson 01's epochs on GPU vs CPU.

1. `course test --gpu` runs every lesson with its full parameters; a lesson that quietly ran
   on the CPU fails. Its report gives each lesson's time, GPU name and peak GPU memory.
2. `course run 01 --full` twice, with `-p device cuda` and `-p device cpu`: lesson 01 logs
   `seconds_per_epoch` (its whole fit divided by the epochs, CUDA warm-up included).
3. `course bands record 01 --full --runs 5`: lesson 01's band for full runs on CUDA, written to
   benchmarks/gpu/lesson-bands.json, to merge into the template's lesson-bands.json.

Lesson 02's archive is served from 127.0.0.1, as in the harness benchmark, so a machine
without internet works. Needs the template's test requirements and a CUDA build of torch.
Writes benchmarks/gpu/results.md and benchmarks/gpu/report.json (course test's own report).

    python benchmarks/gpu.py
"""

import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import TOOLS, bake, data_server, env_for

RESULTS = Path(__file__).with_name("gpu")
LESSON = "01"


def require_cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(
            f"benchmarks/gpu.py: torch {torch.__version__} sees no CUDA GPU (CUDA build "
            f"{torch.version.cuda or 'none'}): run it on a machine with an NVIDIA GPU and a CUDA build of torch"
        )
    props = torch.cuda.get_device_properties(0)
    return f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, CUDA {torch.version.cuda}"


def course(*args, cwd: Path, env: dict) -> tuple[int, str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", TOOLS, *args], cwd=cwd, env=env, capture_output=True, text=True)
    print(done.stdout, done.stderr, sep="", end="", flush=True)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def epoch_seconds(root: Path, env: dict, device: str) -> dict:
    """Lesson 01 at full parameters on ``device``: seconds per epoch and accuracy, from its metrics."""
    status, output, seconds = course(
        "run", LESSON, "--full", "-p", "device", device, "--run-id", device, cwd=root, env=env
    )
    metrics_files = list((root / "build" / "runs").glob(f"{LESSON}_*/{device}/metrics.json"))
    latest = json.loads(metrics_files[0].read_text())["latest"] if status == 0 and metrics_files else {}
    return {
        "device": device,
        "passed": status == 0,
        "seconds": seconds,
        **latest,
        "error": "" if status == 0 else _failure_line(output),
    }


def _failure_line(output: str) -> str:
    return next((line for line in output.splitlines() if " failed" in line), output.strip().splitlines()[-1])


def results_text(gpu: str, report_md: str, epochs: list[dict]) -> str:
    by_device = {row["device"]: row for row in epochs}
    lines = [
        "# Lessons on a GPU",
        "",
        f"{gpu}; Python {platform.python_version()}, {platform.system()} {platform.machine()}.",
        "",
        "## `course test --gpu`, full parameters",
        "",
        report_md.split("\n", 1)[1].strip() if report_md.startswith("#") else report_md.strip(),
        "",
        f"## Lesson {LESSON} at full parameters: seconds per epoch",
        "",
        "| device | seconds per epoch | accuracy | whole run s |",
        "|---|---:|---:|---:|",
    ]
    for row in epochs:
        if row["passed"]:
            lines.append(
                f"| {row['device']} | {row['seconds_per_epoch']:.2f} | {row['accuracy']:.3f} | {row['seconds']:.1f} |"
            )
        else:
            lines.append(f"| {row['device']} | failed: {row['error']} | | |")
    if all(by_device.get(d, {}).get("passed") for d in ("cuda", "cpu")):
        speedup = by_device["cpu"]["seconds_per_epoch"] / by_device["cuda"]["seconds_per_epoch"]
        lines += ["", f"An epoch on the GPU takes {1 / speedup:.2f}x the CPU's time ({speedup:.1f} times faster)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    gpu = require_cuda()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as workdir:
        root = bake(Path(workdir))
        env = env_for(root)
        with data_server(root) as data:
            data_args = [arg for name, value in data.items() for arg in ("-p", name, value)]
            course("test", "--gpu", "--force", *data_args, cwd=root, env=env)
        report = root / "build" / "report.md"
        epochs = [epoch_seconds(root, env, device) for device in ("cuda", "cpu")]
        course("bands", "record", LESSON, "--full", "--runs", "5", "-q", cwd=root, env=env)
        if (root / "lesson-bands.json").exists():
            shutil.copy(root / "lesson-bands.json", RESULTS / "lesson-bands.json")
        if (root / "build" / "report.json").exists():
            shutil.copy(root / "build" / "report.json", RESULTS / "report.json")
        text = results_text(gpu, report.read_text() if report.exists() else "no report: see the output above", epochs)
    print(text)
    (RESULTS / "results.md").write_text(text)


if __name__ == "__main__":
    main()
