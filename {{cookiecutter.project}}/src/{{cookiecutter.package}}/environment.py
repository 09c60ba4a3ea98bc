"""Where a lesson runs: runtime (Colab, Kaggle, CI, laptop), device and library versions.

A leaf: it imports nothing of the course. Cheap to import on purpose: the setup cell imports
the package on every run, so torch is imported only inside ``device_info()`` and versions come
from package metadata, not from importing the libraries.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from dataclasses import dataclass

VERSIONED_PACKAGES = ("torch", "torchvision", "fastai")


KAGGLE_VARIABLES = ("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


def runtime() -> str:
    """``"colab"``, ``"kaggle"``, ``"ci"`` or ``"local"``: decides where data and checkpoints live.

    Kaggle is asked first: its image is built on Colab's, so ``google.colab`` imports there too.
    """
    if any(os.environ.get(name) for name in KAGGLE_VARIABLES):
        return "kaggle"
    if os.environ.get("COLAB_RELEASE_TAG") or _importable("google.colab"):
        return "colab"
    if _flag(os.environ.get("CI")) or _flag(os.environ.get("GITHUB_ACTIONS")):
        return "ci"
    return "local"


def _importable(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # parent package missing or half-initialised
        return False


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class DeviceInfo:
    """The device lessons train on: the first CUDA GPU if there is one, else the CPU."""

    kind: str  # "cuda" or "cpu"
    name: str
    memory_gb: float | None = None  # total GPU memory; None on CPU
    capability: str | None = None  # CUDA compute capability, e.g. "7.5"
    count: int = 1  # GPUs visible (CPU: logical cores)

    def __str__(self) -> str:
        if self.kind == "cuda":
            extra = f" x{self.count}" if self.count > 1 else ""
            return f"{self.name}{extra} ({self.memory_gb:.1f} GB, compute {self.capability})"
        return f"CPU ({self.name}, {self.count} cores)"


def device_info() -> DeviceInfo:
    """Describe the training device; imports torch, so call it only when the answer is needed."""
    try:
        import torch
    except ImportError:
        return _cpu_info()
    if not torch.cuda.is_available():
        return _cpu_info()
    props = torch.cuda.get_device_properties(0)
    return DeviceInfo(
        kind="cuda",
        name=props.name,
        memory_gb=round(props.total_memory / 2**30, 1),
        capability=f"{props.major}.{props.minor}",
        count=torch.cuda.device_count(),
    )


def _cpu_info() -> DeviceInfo:
    return DeviceInfo(kind="cpu", name=platform.machine() or "unknown", count=os.cpu_count() or 1)


def memory_gb() -> float | None:
    """This machine's RAM in GB (10^9 bytes, as Colab shows it); None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def installed_versions(packages) -> dict[str, str | None]:
    """Installed version of each package (None if absent), from metadata without importing it."""
    from importlib import metadata  # not at the top: it would double the cost of `import <package>`

    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def torch_pair_problem(installed: dict | None = None) -> str | None:
    """What is wrong with the installed torch and torchvision as a pair, with the command that fixes it;
    None when they fit (or one is absent).

    torchvision's compatibility table pairs torch 2.N with torchvision 0.(N+15) (2.14 with 0.29), and
    both must be the same build: ``+cpu`` torch beside PyPI's CUDA torchvision fails on import with
    ``operator torchvision::nms does not exist``.
    """
    found = installed or installed_versions(("torch", "torchvision"))
    torch, vision = found.get("torch"), found.get("torchvision")
    if not torch or not vision:
        return None
    torch_release, _, torch_build = torch.partition("+")
    vision_release, _, vision_build = vision.partition("+")
    parts = torch_release.split(".")
    if len(parts) < 2 or parts[0] != "2" or not parts[1].isdigit():
        return None  # a release the table does not cover
    wanted = f"0.{int(parts[1]) + 15}"
    index = f" --index-url {TORCH_CPU_INDEX}" if torch_build == "cpu" else ""
    fix = f"pip install --force-reinstall --no-deps 'torchvision=={wanted}.*'{index}"
    if index:  # that index may be what could not be reached: PyPI's pair runs on a CPU too
        fix += (
            f" (where that index cannot be reached: pip install --force-reinstall 'torch=={parts[0]}.{parts[1]}.*' "
            f"'torchvision=={wanted}.*', PyPI's matching pair, larger, that runs on a CPU too)"
        )
    if not (vision_release == wanted or vision_release.startswith(wanted + ".")):
        return f"torchvision {vision} does not fit torch {torch} (it needs torchvision {wanted}): {fix}"
    if torch_build != vision_build:
        built = {"": "the default (CUDA on Linux) build", "cpu": "the CPU build"}
        return (
            f"torch {torch} and torchvision {vision} are different builds ({built.get(torch_build, torch_build)} "
            f"beside {built.get(vision_build, vision_build)}), so importing torchvision fails: {fix}"
        )
    return None


def versions() -> dict[str, str]:
    """Python and library versions, read from installed metadata without importing the libraries."""
    installed = installed_versions(VERSIONED_PACKAGES)
    return {"python": platform.python_version(), **{name: v or "not installed" for name, v in installed.items()}}
