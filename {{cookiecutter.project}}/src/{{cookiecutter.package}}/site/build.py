"""`course site`: the Sphinx project written from the course (``pages``), built into ``build/site/``.

Sphinx runs with warnings as errors: a broken reference or a missing image stops the build with
the file and line Sphinx names. The built site must fit GitHub Pages (1 GB in all, 100 MB per file).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from .. import notebooks
from ..config import CourseConfig
from ..errors import CourseError
from ..formatting import shown
from ..git import GitFailed, git
from . import pages
from .sources import newest_executed, read_json

PAGES_TOTAL_BYTES = 2**30  # GitHub Pages: a published site of at most 1 GB ...
PAGES_FILE_BYTES = 100 * 2**20  # ... and no file over 100 MB


def build_site(root: Path, config: CourseConfig) -> Path:
    """Write the project into ``build/site-source`` and build it into ``build/site``; returns the index page."""
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        raise CourseError("course site needs the site tools: pip install -e '.[site]'") from None
    build = root / "build"
    source, out, doctrees = build / "site-source", build / "site", build / "site-doctrees"
    write_project(root, config, source)
    warnings = build / "site-warnings.txt"
    arguments = ["-b", "html", "-q", "-W", "--keep-going", "-w", str(warnings), "-d", str(doctrees)]
    with contextlib.redirect_stderr(io.StringIO()):  # the warnings go to the file; the error below names the first
        status = build_main([*arguments, str(source), str(out)])
    if status != 0:
        written = warnings.read_text(encoding="utf-8") if warnings.is_file() else ""
        lines = [line for line in written.splitlines() if line.strip()]
        first = (lines or ["Sphinx failed without a message"])[0].replace(str(source) + "/", "")
        raise CourseError(f"the site did not build: {first} (all of them in {shown(warnings)}); fix that file")
    check_pages_limits(out)
    return out / "index.html"


def write_project(root: Path, config: CourseConfig, source: Path) -> None:
    """Every page of the site, written only where it changed; pages of lessons that are gone are removed."""
    lessons = notebooks.lesson_files(root, strict=True)
    commit = _commit(root)
    limits = (config.site_max_output_mb, config.site_max_page_mb)
    pages.write(source / "conf.py", pages.conf_py(config, _author(root)))
    pages.write(source / "index.md", pages.home_page(root, config, lessons))
    pages.write(source / "report.md", pages.report_page(read_json(root / "build" / "report.json")))
    pages.write(source / "_static" / "colab-badge.svg", pages.BADGE_SVG)
    wanted = set()
    for lesson in lessons:
        executed = newest_executed(root, lesson.stem, commit)
        page = pages.lesson_page(config, lesson, executed, limits)
        pages.write(source / "lessons" / lesson.name, notebooks.notebook_bytes(page))
        pages.write(source / "_static" / "notebooks" / lesson.name, lesson.read_bytes())
        wanted.add(lesson.name)
    for folder in (source / "lessons", source / "_static" / "notebooks"):
        for stale in folder.glob("*.ipynb"):
            if stale.name not in wanted:
                stale.unlink()


def check_pages_limits(out: Path) -> None:
    files = [path for path in out.rglob("*") if path.is_file()]
    too_big = [path for path in files if path.stat().st_size > PAGES_FILE_BYTES]
    if too_big:
        raise CourseError(
            f"{shown(too_big[0])} is over GitHub Pages' 100 MB per file: lower site_max_output_mb in [tool.course]"
        )
    if sum(path.stat().st_size for path in files) > PAGES_TOTAL_BYTES:
        raise CourseError(f"{shown(out)} is over GitHub Pages' 1 GB: lower site_max_page_mb in [tool.course]")


def _author(root: Path) -> str:
    """The first author in pyproject.toml, for the pages' footer."""
    import tomllib

    try:
        authors = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["authors"]
        return str(authors[0]["name"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return "the course's teachers"


def _commit(root: Path) -> str | None:
    try:
        return git(root, "rev-parse", "HEAD", timeout=30)
    except GitFailed:
        return None
