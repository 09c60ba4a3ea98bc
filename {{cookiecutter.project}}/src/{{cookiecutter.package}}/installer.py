"""What the runtime lacks, installed with the smallest change to what it has.

In Colab and on Kaggle the runtime comes with most of what the course needs. ``setup()``
installs only the requirements of ``[project].dependencies`` that are absent or older than
their floor, in one pip call that pins every package already installed: pip then picks the
versions that fit the runtime as it is, instead of upgrading its neighbours. (Colab's 2026.07
runtime paired fastai 2.8.7 with fastcore 2.0.5, which breaks ``fit_one_cycle``; the floor
``fastai>=2.8.8`` makes this install just fastai 2.8.8.) Should that be impossible, a second
call pins only the packages that must never change, and pip's own message says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import CourseError

# Colab and Kaggle ship torch builds that match their CUDA, and an ipykernel their notebook
# front end talks to; a pip upgrade would replace them and force a runtime restart (or cut
# the notebook off), so these are installed only when entirely absent, and pinned otherwise.
NEVER_REINSTALL = ("torch", "torchvision", "torchaudio", "ipykernel")


def missing_requirements(root: Path, extra: str | None = None) -> list[str]:
    """Requirements of ``[project].dependencies`` (or of the optional ``extra``) that are absent or too old
    (``NEVER_REINSTALL`` only if absent)."""
    import importlib.metadata  # not at the top: it would double the cost of `import <package>`

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    missing = []
    for text in _dependencies(root, extra):
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(text)
            continue
        protected = canonicalize_name(requirement.name) in NEVER_REINSTALL
        if not protected and not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def install_missing(root: Path, extra: str | None = None, *, without_dependencies: bool = False) -> list[str]:
    """pip-install what is missing in one call (no call if nothing is); returns the requirements installed.
    ``extra``: the requirements of that optional group instead (``checks``, for a lesson's check cells).
    ``without_dependencies``: exactly what is missing and nothing else, in one call that changes no installed
    package (the group lists every package it needs that a runtime may lack)."""
    missing = missing_requirements(root, extra)
    if not missing:
        return []
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    print("Installing what this runtime lacks:", ", ".join(_with_installed_version(text) for text in missing))
    if without_dependencies:
        if _pip_install(missing, [], quiet=False, options=["--no-deps"]).returncode:
            raise CourseError(
                f"pip could not install {', '.join(missing)} (see its message above): "
                "check the internet connection (Kaggle: Settings > Internet on) and run the cell again"
            )
        return missing
    installing = {canonicalize_name(Requirement(text).name) for text in missing}
    smallest = _pip_install(missing, _installed_pins(exclude=installing), quiet=True)
    if smallest.returncode == 0:
        return missing
    protected = _installed_pins(only=set(NEVER_REINSTALL) - installing)
    if _pip_install(missing, protected, quiet=False).returncode:
        raise CourseError(
            f"pip could not install {', '.join(missing)} (see its message above): "
            "check the internet connection (Kaggle: Settings > Internet on) and rerun the setup cell"
        )
    return missing


def _pip_install(
    requirements: list[str], pins: list[str], *, quiet: bool, options: tuple | list = ()
) -> subprocess.CompletedProcess:
    """One ``pip install`` with ``pins`` as constraints; output captured when ``quiet`` (a first try)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("".join(pin + "\n" for pin in pins))
    try:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--constraint", constraints.name, *options]
        command += requirements
        return subprocess.run(command, capture_output=quiet, text=True)
    finally:
        os.unlink(constraints.name)


def _installed_pins(*, exclude: set[str] = frozenset(), only: set[str] | None = None) -> list[str]:
    """``name==version`` of the installed distributions (the first of each name on the path)."""
    import importlib.metadata

    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    pins = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        key = canonicalize_name(name) if name else None
        if not key or key in pins or key in exclude or (only is not None and key not in only):
            continue
        try:
            Version(distribution.version)
        except InvalidVersion:  # pip could not read such a pin; leave that package free
            continue
        pins[key] = f"{name}=={distribution.version}"
    return sorted(pins.values())


def _with_installed_version(text: str) -> str:
    import importlib.metadata

    from packaging.requirements import Requirement

    try:
        return f"{text} ({importlib.metadata.version(Requirement(text).name)} installed)"
    except importlib.metadata.PackageNotFoundError:
        return text


def _dependencies(root: Path, extra: str | None = None) -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    pyproject = root / "pyproject.toml"
    table = f"[project.optional-dependencies].{extra}" if extra else "[project].dependencies"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        return list(project["optional-dependencies"][extra] if extra else project["dependencies"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise CourseError(f"cannot read {table} from {pyproject} ({error}): restore it from git") from None
