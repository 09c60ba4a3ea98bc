"""test.sh's install step: where PyTorch's CPU index cannot be reached, `TORCH_CPU=1 bash test.sh` says so and
installs PyPI's build instead, with no broken torch pair left behind. The script runs for real, in a copy of this
checkout's files; the interpreter it is given stands in for pip (a reachable index is not something a test has)."""

import os
import shutil
import stat
import subprocess
import sys

from conftest import TEMPLATE

VENV_PYTHON = """#!/bin/sh
# A venv's python that logs each call; pip fails when sent to PyTorch's CPU index, as when it cannot be reached.
echo "$*" >> "{log}"
case "$*" in
  *download.pytorch.org*) echo "ERROR: Could not find a version that satisfies the requirement torch" >&2; exit 1 ;;
esac
exit 0
"""
PYTHON = """#!/bin/sh
# `python -m venv DIR` makes DIR/bin/python the stand-in above; anything else is this interpreter.
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin" && cp "{venv_python}" "$3/bin/python" && exit 0
fi
exec "{real}" "$@"
"""


def executable(path, text):
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_torch_cpu_falls_back_to_pypis_build_when_the_cpu_index_fails(tmp_path):
    checkout = tmp_path / "template"
    checkout.mkdir()
    for name in ("test.sh", "requirements-ci.txt"):
        shutil.copy(TEMPLATE / name, checkout / name)
    log = tmp_path / "calls.log"
    venv_python = executable(tmp_path / "venv-python", VENV_PYTHON.format(log=log))
    python = executable(tmp_path / "python", PYTHON.format(venv_python=venv_python, real=sys.executable))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TORCH_CPU", "PYTHON")}
    done = subprocess.run(
        ["bash", "test.sh"],
        cwd=checkout,
        env={**env, "PYTHON": str(python), "TORCH_CPU": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PyTorch's CPU index failed: installing PyPI's build of torch instead" in done.stderr
    pip = [line for line in log.read_text().splitlines() if line.startswith("-m pip")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip[0]  # the CPU build first ...
    assert "uninstall" in pip[1] and "torch torchvision" in pip[1]  # ... then no half-installed pair ...
    assert pip[2].endswith("-r requirements-ci.txt") and "download.pytorch.org" not in pip[2]  # ... then PyPI's
    stamp = (checkout / ".venv" / ".requirements-ci.sha256").read_text().strip()
    assert (
        stamp
        == subprocess.run(
            ["sha256sum", "requirements-ci.txt"], cwd=checkout, capture_output=True, text=True
        ).stdout.split()[0]
    ), "the stamp names what is installed: the default requirements"
