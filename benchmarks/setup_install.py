"""What the setup cell installs on a fresh Colab runtime, and what that costs its first run.

Simulates Colab's runtimes in a Python 3.13 venv (Colab's Python): every package `constraints/colab.txt` lists
is "installed" as metadata only (what the setup cell's installer looks at), except `packaging`, which it imports
and so is installed for real. The 2026.07 runtime is the same with fastai 2.8.7 and fastcore 2.0.5. Then the
course's own `installer.install_missing` runs there as the setup cell runs it, pip and all, from the package
index. Prints a table and writes results-setup-install.md.

    python benchmarks/setup_install.py [LABEL=COURSE ...]   # default: a fresh bake of the template
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import bake, course_helpers, publish

RESULTS = Path(__file__).with_name("results-setup-install.md")
RUNTIMES = {"head": {}, "2026.07": {"fastai": "2.8.7", "fastcore": "2.0.5"}}
INSTALL = (
    "import json, sys, time; from pathlib import Path; from {package}.installer import install_missing; "
    "started = time.perf_counter(); done = install_missing(Path(sys.argv[1])); "
    "print(json.dumps({{'installed': done, 'seconds': time.perf_counter() - started}}))"
)


def colab_pins(course: Path) -> dict[str, str]:
    lines = (course / "constraints" / "colab.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def simulated_runtime(folder: Path, python: str, pins: dict[str, str]) -> Path:
    """A venv whose installed packages are ``pins``: metadata only, but ``packaging`` for real."""
    subprocess.run([python, "-m", "venv", str(folder)], check=True)
    venv_python = folder / "bin" / "python"
    subprocess.run([venv_python, "-m", "pip", "install", "-q", f"packaging=={pins['packaging']}"], check=True)
    site = subprocess.run(
        [venv_python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True
    ).stdout.strip()
    for name, version in pins.items():
        if name == "packaging":
            continue
        info = Path(site) / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("colab\n")
        files = [f"{info.name}/{part}" for part in ("METADATA", "INSTALLER", "RECORD")]
        (info / "RECORD").write_text("".join(f"{file},,\n" for file in files))  # so pip can replace it
    return venv_python


def setup_cell_install(course: Path, runtime: Path) -> dict:
    """``install_missing`` of ``course`` run in ``runtime``'s Python as the setup cell runs it."""
    package = next(p.name for p in (course / "src").iterdir() if (p / "__init__.py").is_file())
    done = subprocess.run(
        [runtime, "-c", INSTALL.format(package=package), str(course)],
        env={"PYTHONPATH": str(course / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"the setup cell's install failed in {runtime}:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-setup-install-") as workdir:
        work = Path(workdir)
        baked = bake(work)
        courses = dict(arg.split("=", 1) for arg in sys.argv[1:]) or {"this template": str(baked)}
        python313 = course_helpers(baked).python_interpreter("3.13")
        if python313 is None:
            raise SystemExit("no Python 3.13 here (Colab's): install it (pyenv install 3.13)")
        rows = []
        for label, course in courses.items():
            for runtime, changes in RUNTIMES.items():
                pins = {**colab_pins(Path(course)), **changes}
                result = setup_cell_install(Path(course), simulated_runtime(work / label / runtime, python313, pins))
                installed = ", ".join(result["installed"]) or "nothing"
                rows.append(f"| {label} | {runtime} | {installed} | {result['seconds']:.1f} s |")
    publish(
        RESULTS,
        [
            "# What the setup cell installs on Colab",
            "",
            "Colab's packages from each course's `constraints/colab.txt` (metadata only), Python 3.13; the setup",
            "cell's own installer, pip from this machine's package index (a local mirror: on Colab downloads take",
            f"longer); measured {time.strftime('%Y-%m-%d')}.",
            "",
            "| course | runtime | installed by the setup cell | its first run's install time |",
            "|---|---|---|---:|",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
