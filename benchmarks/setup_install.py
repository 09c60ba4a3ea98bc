"""What the setup cell installs on a fresh Colab runtime, and what that costs its first run.

Simulates Colab's runtimes in a Python 3.13 venv (Colab's Python): every package `constraints/colab.txt` lists
is "installed" as metadata only (what the setup cell's installer looks at), except `packaging`, which it imports
and so is installed for real. The 2026.07 runtime is the same with fastai 2.8.7 and fastcore 2.0.5. Then the
course's own `installer.install_missing` runs there as the setup cell runs it, pip and all, from the package
index. Prints a table and writes results-setup-install.md.

    python benchmarks/setup_install.py [COURSE]   # default: a fresh bake of the template
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
    return venv_python


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-setup-install-") as workdir:
        work = Path(workdir)
        course = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else bake(work)
        python313 = course_helpers(course).python_interpreter("3.13")
        if python313 is None:
            raise SystemExit("no Python 3.13 here (Colab's): install it (pyenv install 3.13)")
        package = next(p.name for p in (course / "src").iterdir() if (p / "__init__.py").is_file())
        rows = []
        for runtime, changes in RUNTIMES.items():
            python = simulated_runtime(work / runtime, python313, {**colab_pins(course), **changes})
            done = subprocess.run(
                [python, "-c", INSTALL.format(package=package), str(course)],
                env={"PYTHONPATH": str(course / "src"), "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise SystemExit(f"the setup cell's install failed on {runtime}:\n{done.stdout}\n{done.stderr}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(f"| {runtime} | {', '.join(result['installed']) or 'nothing'} | {result['seconds']:.1f} s |")
    publish(
        RESULTS,
        [
            "# What the setup cell installs on Colab",
            "",
            f"Course: `{course.name}`; Colab's packages from its `constraints/colab.txt` (metadata only, Python 3.13);",
            f"measured {time.strftime('%Y-%m-%d')}, pip from the package index this machine reaches.",
            "",
            "| runtime | installed by the setup cell | its first run's install time |",
            "|---|---|---:|",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
