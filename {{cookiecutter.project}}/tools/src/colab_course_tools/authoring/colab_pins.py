"""`course colab-pins`: Colab's package versions as a pins file, and dependency floors that CI tests.

Colab publishes its runtime in the public repository ``googlecolab/backend-info``:
``pip-freeze.gpu.txt`` (every package of the GPU runtime) and ``os-info-gpu.txt`` (its Python).
From them this writes ``constraints/colab.txt``: Colab's version of each package the course's
CI pins (``constraints/ci.txt``), with the Python version in a comment, so a CI job can run
the lessons on what students get. Local version labels are dropped (``torch==2.11.0``, not
``+cu128``): CI installs the CPU build of the same release.

It also sets each ``>=`` floor in ``[project].dependencies`` to the oldest version CI tests
(the lower of the Colab and the CI pin), so no floor claims more than was tested.

Standard library only: the weekly CI job runs it before anything is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import atomic
from ..errors import CourseError

BACKEND_INFO = "https://raw.githubusercontent.com/googlecolab/backend-info/main"
FREEZE_URL = f"{BACKEND_INFO}/pip-freeze.gpu.txt"
OS_INFO_URL = f"{BACKEND_INFO}/os-info-gpu.txt"
PINS_FILE = Path("constraints") / "colab.txt"
CI_PINS_FILE = Path("constraints") / "ci.txt"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")
_FLOOR = re.compile(r'^(\s*")([A-Za-z0-9][A-Za-z0-9._-]*)>=([^";,\s]+)((?:\s*;[^"]*)?",?\s*)$')
_PYTHON_PIN = re.compile(r"^# python: (\d+\.\d+)", re.M)


def canonical(name: str) -> str:
    """The name as PyPI compares them (PEP 503): ``Scikit_Learn`` and ``scikit-learn`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_source(source: str) -> str:
    """The text of a local file or an http(s) URL; ``CourseError`` saying which and why when it fails."""
    if re.match(r"https?://", source):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=30) as response:
                return response.read().decode("utf-8")
        except (urllib.error.URLError, OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "reason", error)
            raise CourseError(
                f"cannot download {source} ({reason}): check the address and the network, "
                "or download the file yourself and give its path"
            ) from None
    try:
        return Path(source).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"cannot read {source} ({error}): give the path or URL of the file") from None


def parse_pins(text: str) -> dict[str, tuple[str, str]]:
    """``canonical name -> (name, version)`` of every ``name==version`` line (``pip freeze`` format)."""
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            pins[canonical(match[1])] = (match[1], match[2])
    return pins


def python_version(os_info: str) -> str:
    """``3.13`` from os-info's ``Python 3.13.15`` line."""
    match = re.search(r"^Python (\d+)\.(\d+)", os_info, re.M)
    if not match:
        raise CourseError("no 'Python 3.N' line in the os-info file: give Colab's os-info-gpu.txt")
    return f"{match[1]}.{match[2]}"


def release(version: str) -> str:
    """The version without its local label: ``2.11.0+cu128`` -> ``2.11.0``."""
    return version.split("+", 1)[0]


def colab_pins(freeze: dict, wanted: dict) -> dict[str, tuple[str, str]]:
    """Colab's version of each package in ``wanted`` that Colab has, local label dropped."""
    return {key: (wanted[key][0], release(freeze[key][1])) for key in wanted if key in freeze}


def pins_text(pins: dict, python: str, sources: tuple[str, str]) -> str:
    lines = [
        "# Colab's GPU runtime, as published in googlecolab/backend-info, for the packages constraints/ci.txt",
        "# pins; CI runs the lessons on these (.github/workflows/lessons-colab.yml). Written by",
        "# `course colab-pins`: run it again to take Colab's newest versions. Sources:",
        *(f"#   {source}" for source in sources),
        f"# python: {python}",
    ]
    lines += [f"{name}=={version}" for name, version in sorted(pins.values(), key=lambda pin: canonical(pin[0]))]
    return "\n".join(lines) + "\n"


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"[.+-]", release(version)))


def raise_floors(pyproject: str, tested: list[dict]) -> tuple[str, list[str]]:
    """``pyproject.toml`` with each ``name>=X`` dependency's floor set to the oldest version in ``tested``.

    Only ``[project].dependencies`` is changed, one requirement per line as the template writes them.
    Returns the new text and a line per change.
    """
    out, changes, inside = [], [], False
    for line in pyproject.splitlines(keepends=True):
        if re.match(r"^dependencies\s*=\s*\[", line):
            inside = True
        elif inside and line.strip().startswith("]"):
            inside = False
        match = _FLOOR.match(line) if inside else None
        versions = [pins[canonical(match[2])][1] for pins in tested if match and canonical(match[2]) in pins]
        if match and versions:
            floor = min(versions, key=_version_key)
            if floor != match[3]:
                changes.append(f"{match[2]}>={match[3]} -> {match[2]}>={floor}")
                line = f"{match[1]}{match[2]}>={floor}{match[4]}"
        out.append(line)
    return "".join(out), changes


def update(root: Path, freeze_source: str = FREEZE_URL, os_info_source: str = OS_INFO_URL) -> list[str]:
    """Write ``constraints/colab.txt`` and the floors; returns a line per change."""
    ci = parse_pins(read_source(str(root / CI_PINS_FILE)))
    freeze = parse_pins(read_source(freeze_source))
    if not freeze:
        raise CourseError(f"{freeze_source} has no `name==version` lines: give Colab's pip-freeze.gpu.txt")
    python = python_version(read_source(os_info_source))
    pins = colab_pins(freeze, ci)
    old = parse_pins((root / PINS_FILE).read_text(encoding="utf-8")) if (root / PINS_FILE).is_file() else {}
    changes = [
        f"{name} {old[key][1] if key in old else '(new)'} -> {version}"
        for key, (name, version) in sorted(pins.items())
        if old.get(key, (None, None))[1] != version
    ]
    old_python = _PYTHON_PIN.search((root / PINS_FILE).read_text(encoding="utf-8")) if old else None
    if not old_python or old_python[1] != python:
        changes.insert(0, f"python {old_python[1] if old_python else '(new)'} -> {python}")
    atomic.write_text(root / PINS_FILE, pins_text(pins, python, (freeze_source, os_info_source)))
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    raised, floors = raise_floors(pyproject, [pins, ci])
    if floors:
        atomic.write_text(root / "pyproject.toml", raised)
    return changes + [f"floor {change}" for change in floors]
