"""Where the course lives and what it is called.

The values come from ``[tool.course]`` in the repo's ``pyproject.toml`` (written
when the course was generated); folders for data, checkpoints and build output
are derived from the repo root and the runtime (on Drive in Colab).
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass
from pathlib import Path
from urllib.parse import quote

from .environment import runtime
from .errors import CourseError

COLAB_RAM_GB = 12.7  # a standard Colab runtime


@dataclass(frozen=True)
class CourseConfig:
    """``[tool.course]``: every key is required except those with a default here."""

    title: str
    package: str
    github_user: str
    github_repo: str
    branch: str
    drive_folder: str
    memory_budget_gb: float = COLAB_RAM_GB  # `course test` warns about a lesson that needs more RAM
    site_max_output_mb: float = 2.0  # `course site` leaves out a bigger output (with a note) ...
    site_max_page_mb: float = 20.0  # ... and the largest ones of a bigger page
    ci_shards: int = 2  # CI's CPU workflow runs the lessons in this many parallel jobs (`course test --shard`)

    @property
    def repo_url(self) -> str:
        return f"https://github.com/{self.github_user}/{self.github_repo}.git"

    def colab_url(self, lesson_file: str, folder: str = "lessons") -> str:
        """The "Open in Colab" link of a lesson file name such as ``01_first_model.ipynb`` (the branch URL-quoted);
        ``folder`` is ``student/lessons`` for a lesson with exercises (``exercises.opened_folder``)."""
        return (
            f"https://colab.research.google.com/github/{self.github_user}/"
            f"{self.github_repo}/blob/{quote(self.branch)}/{folder}/{lesson_file}"
        )


def find_root(start: Path | None = None) -> Path:
    """The course repo root: ``COURSE_ROOT`` if set, else the nearest folder up with a pyproject.toml."""
    if os.environ.get("COURSE_ROOT"):
        return Path(os.environ["COURSE_ROOT"]).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    raise CourseError(
        f"no pyproject.toml in {here} or above: run this from inside the course repository "
        "or set COURSE_ROOT to its folder"
    )


def course_root() -> Path:
    """``find_root()``, refused unless it is a course (a valid ``[tool.course]``): commands never act on,
    or write ``build/`` into, another project."""
    root = find_root()
    load_config(root)
    return root


def load_config(root: Path | None = None) -> CourseConfig:
    """Read ``[tool.course]`` from the repo's pyproject.toml; ``CourseError`` naming what is wrong."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    root = root or find_root()
    pyproject = root / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(
            f"cannot read {pyproject} ({error}): restore it with `git checkout -- pyproject.toml`"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{pyproject} is not valid TOML ({error}): fix that line") from None
    table = document.get("tool", {}).get("course")
    if not isinstance(table, dict):
        keys = ", ".join(name for name, field in CourseConfig.__dataclass_fields__.items() if field.default is MISSING)
        raise CourseError(
            f"{pyproject} has no [tool.course] table, the course's settings: if this is your course, restore the "
            f"table with `git checkout -- pyproject.toml` (or write it again with the keys {keys}); "
            "if it is another project, run this inside a course, or set COURSE_ROOT to one"
        )
    values = {}
    for name, field in CourseConfig.__dataclass_fields__.items():
        if name in table:
            values[name] = _value(pyproject, name, table[name], field.default)
        elif field.default is MISSING:
            raise CourseError(
                f"[tool.course] in {pyproject} has no `{name}`: add it (see the template's pyproject.toml)"
            )
    return CourseConfig(**values)


def _value(pyproject: Path, name: str, value, default):
    if default is MISSING:
        return str(value)
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        raise CourseError(
            f"[tool.course] {name} = {value!r} in {pyproject}: give a whole number above 0, e.g. {default}"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise CourseError(f"[tool.course] {name} = {value!r} in {pyproject}: give a positive number, e.g. {default}")


@dataclass(frozen=True)
class CoursePaths:
    """Folders lessons write to. In Colab ``root`` is on Drive, so all but ``local_data`` survive a reset.

    ``COURSE_LOCAL_DATA`` and ``COURSE_CHECKPOINTS`` override two of them (tests, `course run`).
    """

    root: Path
    data: Path  # downloaded archives (cache; on Drive in Colab)
    local_data: Path  # extracted data on fast local disk (/content/data in Colab)
    checkpoints: Path
    build: Path

    @classmethod
    def for_root(cls, root: Path, runtime: str) -> CoursePaths:
        default_local = Path("/content/data") if runtime == "colab" else root / "data"
        local = Path(os.environ.get("COURSE_LOCAL_DATA") or default_local)
        checkpoints = Path(os.environ.get("COURSE_CHECKPOINTS") or root / "checkpoints")
        return cls(root, root / "data", local, checkpoints, root / "build")


def course_paths(root: Path | None = None) -> CoursePaths:
    """Paths for the current runtime (see ``environment.runtime()``)."""
    return CoursePaths.for_root(root or find_root(), runtime())


def course_package(root: Path):
    """The course's own package (``[tool.course] package``), imported from its ``src/`` as a lesson imports it:
    the one place the tools load it, to show what the course's setup reports (``course env``)."""
    import importlib
    import sys

    source = str(root / "src")
    if source not in sys.path:
        sys.path.insert(0, source)
    return importlib.import_module(load_config(root).package)


def package_source(root: Path) -> Path:
    """The folder this process imports the course's package from: its ``src/``, unless the package is found
    elsewhere first (installed, or on ``sys.path`` only, as in Colab after the setup cell)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(load_config(root).package)
    except (ImportError, ValueError):
        spec = None
    return Path(spec.origin).parents[1] if spec and spec.origin else root / "src"
