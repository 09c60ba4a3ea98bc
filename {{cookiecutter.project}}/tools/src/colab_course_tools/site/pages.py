"""The site's pages, written as a Sphinx project: a home page from the README, one page per lesson
with its stored outputs, the last run's report.

Every lesson page starts with where its outputs come from (``sources``), the lesson's "Open in
Colab" link (the README badge's own URL: ``CourseConfig.colab_url``) and a link to download the
notebook. The badge image ships with the site, so reading a page asks no third party for anything.
Outputs over ``site_max_output_mb`` (and, largest first, those that make a page exceed
``site_max_page_mb``) are replaced by a note saying what was dropped; widgets, which need a live
kernel, keep their static form or become a note. A lesson with exercises shows its student version
(``exercises``): the executed outputs of the cells it shares with the teacher's lesson, no solution and
no test. Files are written only when they change, so Sphinx rebuilds only what changed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import notebooks
from ..atomic import write_bytes
from ..authoring.readme import COLAB_BADGE
from ..config import CourseConfig
from ..exercises import opened_folder
from .sources import Executed

WIDGET = "application/vnd.jupyter.widget-view+json"
BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open In Colab">
<rect width="117" height="20" rx="3" fill="#555"/><rect x="32" width="85" height="20" rx="3" fill="#f9ab00"/>
<rect x="32" width="4" height="20" fill="#f9ab00"/>
<circle cx="11" cy="10" r="5" fill="none" stroke="#f9ab00" stroke-width="3"/>
<circle cx="21" cy="10" r="5" fill="none" stroke="#e8710a" stroke-width="3"/>
<text x="75" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">Open in Colab</text>
</svg>
"""


def write(path: Path, content: str | bytes) -> bool:
    """Write only a change (Sphinx then rebuilds only what changed); True if the file changed."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.read_bytes() == data:
        return False
    write_bytes(path, data)
    return True


# The pages fit the window (no sideways scroll at 1280 px) and lesson code fits the page: the article takes the
# room the theme leaves, long lines wrap (the formatter allows 120 characters), wide tables and images shrink or
# scroll inside themselves.
COURSE_CSS = """/* Written by `course site`. */
.bd-main .bd-content .bd-article-container { max-width: 100%; }
.bd-article pre, div.highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.bd-article table { display: block; max-width: 100%; overflow-x: auto; }
.bd-article img, .bd-article svg { max-width: 100%; height: auto; }
.bd-article p, .bd-article li { overflow-wrap: anywhere; }
.bd-article code.literal, .bd-article code.literal span.pre { white-space: normal; overflow-wrap: anywhere; }
"""


def conf_py(config: CourseConfig, author: str) -> str:
    repository = f"https://github.com/{config.github_user}/{config.github_repo}"
    return f"""# Written by `course site` from [tool.course]; changes here are overwritten.
project = {config.title!r}
author = {author!r}
html_title = {config.title!r}
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the site shows what the harness ran; it never runs a lesson
html_theme = "sphinx_book_theme"
html_theme_options = {{"repository_url": {repository!r}, "use_repository_button": True, "path_to_docs": "lessons"}}
html_context = {{"default_mode": "light"}}  # a theme mode from the start: no "invalid theme mode" on first load
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_copy_source = False
html_use_index = False  # no general index page: it cost the most of a rebuild and says nothing here
exclude_patterns = ["_build"]
"""


def home_page(root: Path, config: CourseConfig, lessons: list[Path]) -> str:
    """The README's title, introduction, lesson table and student quick start; its other links go to GitHub."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    text = readme[: readme.index("## Teachers")] if "## Teachers" in readme else readme
    text = text.replace(COLAB_BADGE, "_static/colab-badge.svg")
    blob = f"https://github.com/{config.github_user}/{config.github_repo}/blob/{config.branch}/"

    def link(match: re.Match) -> str:
        target = match[2]
        if re.match(r"[a-z]+:|#", target) or target.startswith("_static/"):
            return match[0]
        if target.startswith("lessons/") and target.endswith(".ipynb"):
            return match[0]  # a page of the site
        return f"{match[1]}({blob}{target})"

    text = re.sub(r"(\[[^\]]*\])\(([^)\s]+)\)", link, text)
    toctree = "\n".join(f"lessons/{path.stem}" for path in lessons)
    return f"{text.rstrip()}\n\n```{{toctree}}\n:hidden:\n:caption: Lessons\n\n{toctree}\nreport\n```\n"


def lesson_page(
    config: CourseConfig, lesson: Path, executed: Executed | None, limits: tuple[float, float], root: Path
) -> dict:
    """The notebook a lesson page shows: the executed copy to publish (or the lesson itself, without outputs)
    with where it comes from, its Colab link and its download link on top; no path of this machine in it."""
    notebook = notebooks.read_notebook(executed.notebook if executed else lesson)
    folder = opened_folder(lesson)
    if folder != "lessons":
        notebook = _as_student(notebook, notebooks.read_notebook(lesson.parent.parent / folder / lesson.name))
    if executed and executed.smoke:
        said = (
            f"The outputs below come from {executed.describe()}: a smoke run, whose small, quick parameters only "
            "check that the lesson runs, so its numbers are not the lesson's. Run it in Colab for the real ones."
        )
    elif executed:
        said = f"The outputs below come from {executed.describe()}."
    else:
        said = "This lesson has not been run yet, so it has no outputs here: run it in Colab, or `course test`."
    links = (
        f'<p class="course-links"><a class="colab-link" href="{config.colab_url(lesson.name, folder)}">'
        f'<img src="../_static/colab-badge.svg" alt="Open In Colab"></a> '
        f'<a class="download-link" href="../_static/notebooks/{lesson.name}" download>'
        f"Download the notebook ({lesson.name})</a></p>"
    )
    banner = notebooks.markdown_cell(f"{links}\n\n*{said}*", id="course-site-banner")
    cells = [cell for cell in notebooks.cells(notebook) if not notebooks.has_tag(cell, notebooks.BANNER_TAG)]
    private = _private_paths(root)
    for cell in cells:
        if "outputs" in cell:
            cell["outputs"] = [private(_static_form(output)) for output in cell["outputs"]]
        if notebooks.has_tag(cell, notebooks.SETUP_TAG):  # the same in every lesson: folded, one click away
            cell["metadata"]["tags"] = [*notebooks.tags(cell), notebooks.HIDE_INPUT_TAG]
    _cap(cells, *limits)
    notebook["cells"] = [banner, *cells]
    notebook.get("metadata", {}).pop("widgets", None)
    return notebook


def _private_paths(root: Path):
    """What an output says of this machine's folders, said without them: the course folder becomes ``<course>``
    and the home folder ``~`` (the setup line prints both)."""
    import json

    folders = sorted({str(root), str(root.resolve())}, key=len, reverse=True)
    home = str(Path.home())

    def hide(output: dict) -> dict:
        text = json.dumps(output, ensure_ascii=False)
        for folder in folders:
            text = text.replace(json.dumps(folder)[1:-1], "<course>")
        if len(home) > 1:
            text = text.replace(json.dumps(home)[1:-1], "~")
        return json.loads(text)

    return hide


def _as_student(shown: dict, student: dict) -> dict:
    """The student version's cells, each with the executed cell's outputs where its code is the same one
    (and the run's injected parameters after the parameters cell)."""
    ran = notebooks.cells(shown)
    index = {cell.get("id"): i for i, cell in enumerate(ran)}
    cells = []
    for cell in notebooks.cells(student):
        i = index.get(cell.get("id"))
        same = i is not None and (ran[i]["cell_type"], notebooks.cell_source(ran[i])) == (
            cell["cell_type"],
            notebooks.cell_source(cell),
        )
        cells.append(ran[i] if same else cell)
        if same and i + 1 < len(ran) and notebooks.has_tag(ran[i + 1], notebooks.INJECTED_TAG):
            cells.append(ran[i + 1])
    return {**shown, "cells": cells}


def _static_form(output: dict) -> dict:
    """A widget's output as the static form it carries, or a note: nothing here runs a kernel."""
    data = output.get("data") or {}
    if WIDGET not in data:
        return output
    kept = {kind: value for kind, value in data.items() if kind != WIDGET and kind != "text/plain"}
    if kept:
        return {**output, "data": kept}
    return _note("an interactive widget, which needs a running notebook: open the lesson in Colab to use it")


def _note(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": f"[{text}]\n"}


def _size(output: dict) -> int:
    return len(json.dumps(output))


def _cap(cells: list[dict], output_mb: float, page_mb: float) -> None:
    """Replace outputs over ``output_mb``, then the largest ones while the page is over ``page_mb``."""
    limit, page_limit = output_mb * 2**20, page_mb * 2**20

    def drop(cell, index, why):
        size = _size(cell["outputs"][index])
        cell["outputs"][index] = _note(f"an output of {size / 2**20:.1f} MB was left out of the site: {why}")

    every = [(cell, i) for cell in cells for i in range(len(cell.get("outputs", [])))]
    for cell, i in every:
        if _size(cell["outputs"][i]) > limit:
            drop(cell, i, f"over site_max_output_mb = {output_mb:g} in [tool.course]")
    for cell, i in sorted(every, key=lambda pair: -_size(pair[0]["outputs"][pair[1]])):
        if sum(_size(c["outputs"][j]) for c, j in every) <= page_limit:
            break
        drop(cell, i, f"the page was over site_max_page_mb = {page_mb:g} in [tool.course]")


def report_page(report) -> str:
    """The last run's report (``harness.report.Report``, or None), as `course test` wrote it to build/report.md."""
    from ..harness.report import markdown

    if report is None or not report.results:
        return "# Lesson report\n\nNo report yet: `course test` writes one.\n"
    return markdown(report.results, report.environment, report.earlier)


def charts_section(charts: list[str]) -> str:
    """The report page's charts: each lesson's headline metric over its band's runs and the runs since."""
    if not charts:
        return ""
    images = [f"![{Path(name).stem}: headline metric and its band]({name})" for name in charts]
    return "\n## Headline metrics and their bands\n\n" + "\n\n".join(images) + "\n"
