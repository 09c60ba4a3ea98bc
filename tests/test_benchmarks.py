"""The GPU benchmark's two ends that run without a GPU: its refusal, and its results page."""

import importlib.util
import subprocess
import sys

import pytest

from conftest import TEMPLATE

BENCHMARKS = TEMPLATE / "benchmarks"


def load_gpu_benchmark():
    sys.path.insert(0, str(BENCHMARKS))  # gpu.py imports its helpers from harness.py beside it
    try:
        spec = importlib.util.spec_from_file_location("gpu_benchmark", BENCHMARKS / "gpu.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_gpu_benchmark_without_cuda_says_so_in_one_line_and_writes_nothing():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: the benchmark would run for real")
    results = BENCHMARKS / "gpu"
    before = sorted(results.rglob("*")) if results.exists() else None

    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu.py")], capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("benchmarks/gpu.py: torch ") and "sees no CUDA GPU" in done.stderr
    assert (sorted(results.rglob("*")) if results.exists() else None) == before


def test_gpu_results_page_compares_epochs_and_shows_failures():
    gpu = load_gpu_benchmark()
    report = "# Lesson report\n\n| lesson | status |\n|---|---|\n| 01_first_model | passed |\n"
    cuda = {"device": "cuda", "passed": True, "seconds": 12.0, "seconds_per_epoch": 0.25, "accuracy": 0.98}
    cpu = {"device": "cpu", "passed": True, "seconds": 30.0, "seconds_per_epoch": 2.5, "accuracy": 0.981}

    page = gpu.results_text("NVIDIA H100, 80 GiB", report, [cuda, cpu])

    assert "NVIDIA H100, 80 GiB; Python" in page
    assert "| 01_first_model | passed |" in page and "# Lesson report" not in page
    assert "| cuda | 0.25 | 0.980 | 12.0 |" in page and "| cpu | 2.50 | 0.981 | 30.0 |" in page
    assert "0.10x the CPU's time (10.0 times faster)" in page

    failed = {"device": "cuda", "passed": False, "seconds": 3.0, "error": "course run: 01_first_model failed"}
    page = gpu.results_text("x", report, [failed, cpu])
    assert "| cuda | failed: course run: 01_first_model failed | | |" in page
    assert "times faster" not in page
