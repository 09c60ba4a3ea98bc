"""`course site`: the Sphinx project written from the course (``pages``), built into ``build/site/``.

One ``SiteBuilder`` keeps one Sphinx application loaded: loading Sphinx, myst-nb and the theme is
most of a build's time, so `course site --serve` rebuilds a changed lesson in a fraction of the first
build. Any Sphinx warning (a broken reference, a missing image) fails the build with the file and
line Sphinx names, and the next build reads every page again, so a broken page is never taken as
built. The built site must fit GitHub Pages (1 GB in all, 100 MB per file).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from .. import notebooks
from ..config import CourseConfig
from ..errors import CourseError
from ..exercises import opened_folder
from ..formatting import shown
from ..git import head_commit
from ..lessons import lesson_files
from . import pages
from .sources import run_to_publish

PAGES_TOTAL_BYTES = 2**30  # GitHub Pages: a published site of at most 1 GB ...
PAGES_FILE_BYTES = 100 * 2**20  # ... and no file over 100 MB


class SiteBuilder(contextlib.ExitStack):
    """Builds the site of the course at ``root`` as often as asked, each time only the pages that changed."""

    def __init__(self, root: Path, config: CourseConfig):
        super().__init__()
        self.root, self.config = root, config
        build = root / "build"
        self.source, self.out, self.doctrees = build / "site-source", build / "site", build / "site-doctrees"
        self.warnings_file = build / "site-warnings.txt"
        self.warnings = io.StringIO()
        self.app = None
        self.read_all = self.warnings_file.exists()  # the last build failed

    def build(self) -> list[str]:
        """Write the project and build what changed; returns the pages that changed."""
        changed = write_project(self.root, self.config, self.source)
        built_before = (self.out / "index.html").is_file() and not self.read_all
        if not changed and (self.app is not None or built_before):
            return []
        app = self.app or self._start()
        from sphinx.errors import SphinxError

        self.warnings.seek(0)
        self.warnings.truncate()
        try:
            app.build(force_all=self.read_all)
        except SphinxError as error:
            self.warnings.write(f"{error}\n")
        self.read_all = bool(self.warnings.getvalue())
        if self.read_all:
            self._fail()
        self.warnings_file.unlink(missing_ok=True)
        check_pages_limits(self.out)
        return changed

    def _start(self):
        try:
            from sphinx.application import Sphinx
            from sphinx.util.docutils import docutils_namespace, patch_docutils
        except ImportError:
            raise CourseError("course site needs the site tools: pip install -e '.[site]'") from None
        self.enter_context(patch_docutils(self.source))
        self.enter_context(docutils_namespace())
        self.app = Sphinx(self.source, self.source, self.out, self.doctrees, "html", status=None, warning=self.warnings)
        return self.app

    def _fail(self):
        """Name the first warning; remove the saved state so the next `course site` reads every page again."""
        written = self.warnings.getvalue()
        self.warnings_file.write_text(written, encoding="utf-8")
        (self.doctrees / "environment.pickle").unlink(missing_ok=True)
        lines = [line for line in written.splitlines() if line.strip()]
        first = (lines or ["Sphinx failed without a message"])[0].replace(str(self.source) + "/", "")
        raise CourseError(
            f"the site did not build: {first} (all of them in {shown(self.warnings_file)}); fix that file"
        )


def build_site(root: Path, config: CourseConfig) -> Path:
    """Build the site once; returns its index page."""
    with SiteBuilder(root, config) as builder:
        builder.build()
    return builder.out / "index.html"


def write_project(root: Path, config: CourseConfig, source: Path) -> list[str]:
    """Every page of the site, written only where it changed (the names of those returned); pages of lessons
    that are gone are removed."""
    from ..harness.report import read_report

    report = read_report(root / "build" / "report.json")
    lessons = lesson_files(root, strict=True)
    commit = head_commit(root)
    limits = (config.site_max_output_mb, config.site_max_page_mb)
    files = {
        "conf.py": pages.conf_py(config, _author(root)),
        "index.md": pages.home_page(root, config, lessons),
        "report.md": pages.report_page(report),
        "_static/colab-badge.svg": pages.BADGE_SVG,
        "_static/course.css": pages.COURSE_CSS,
    }
    charts = band_charts(root, report)
    files.update(charts)
    files["report.md"] += pages.charts_section(sorted(charts))
    for lesson in lessons:
        page = pages.lesson_page(config, lesson, run_to_publish(root, lesson.stem, commit), limits, root)
        files[f"lessons/{lesson.name}"] = notebooks.notebook_bytes(page)
        files[f"_static/notebooks/{lesson.name}"] = (root / opened_folder(lesson) / lesson.name).read_bytes()
    changed = [name for name, content in files.items() if pages.write(source / name, content)]
    for folder in ("lessons", "_static/notebooks", "_static/bands"):
        for stale in (source / folder).glob("*.*"):
            if f"{folder}/{stale.name}" not in files:
                stale.unlink()
                changed.append(f"{folder}/{stale.name}")
    return changed


def band_charts(root: Path, report) -> dict[str, bytes]:
    """``_static/bands/<lesson>.svg`` for each lesson of the report with a band or a checked run."""
    from ..experiments.charts import panels, render
    from ..metric_bands import read_bands

    bands = read_bands(root)
    charts = {}
    for result in report.results if report else []:
        chart_panels = panels(bands, root / "build", result.lesson)
        if chart_panels:
            charts[f"_static/bands/{result.lesson}.svg"] = render(result.lesson, chart_panels, "svg")
    return charts


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
