"""`course site` on this course, checked the way a student meets it: in a real browser (Chromium driven
by Playwright) that may reach nothing but 127.0.0.1, with links checked offline by lychee.

Without a browser these tests skip with the reason, except in CI (``CI=true``), where they fail.
"""

import functools
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from colab_course_tools import notebooks, testing
from colab_course_tools.config import load_config
from colab_course_tools.exercises import opened_folder
from colab_course_tools.exercises.questions import read_exercises
from colab_course_tools.lessons import lesson_files
from course_under_test import ROOT

pytestmark = pytest.mark.xdist_group("site")  # one built site, shared by the tests below
BROWSERS = ("chromium", "chromium-browser", "google-chrome")  # Debian's, Ubuntu's, GitHub runners' Chrome
CHROMIUM = os.environ.get("COURSE_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
ONLY_IN_02 = "GrandparentSplitter"  # a word lesson 02 has and the others do not


def need(condition, reason):
    if not condition:
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the site tests)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory, mnist_sample_server):
    """A copy of the course whose lessons ran once (`course test --smoke`), and its site, served on loopback."""
    need(importlib_ok("sphinx", "myst_nb", "sphinx_book_theme"), "the site tools are not installed (.[site])")
    course = tmp_path_factory.mktemp("site") / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", ".venv", "build", "data", "checkpoints"))
    data = ["-p", "data_url", mnist_sample_server.url, "-p", "data_sha256", mnist_sample_server.sha256]
    ran = testing.course_cli("test", "--smoke", "-n", "2", "-q", *data, cwd=course, timeout=900)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    built = testing.course_cli("site", cwd=course, timeout=600)
    assert built.returncode == 0 and not built.stderr, built.stdout + built.stderr  # no warning, no invalid page
    # After lessons ran, its first line must not read as "no lesson has run" (it said "(none is run)").
    assert built.stdout.startswith("course site: building build/site/ from the lessons as they last ran (this runs")
    assert "01_first_model, 02_data_and_checkpoints show a smoke run" in built.stdout
    folder = course / "build" / "site"
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield course, folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def importlib_ok(*names):
    import importlib.util

    return all(importlib.util.find_spec(name) for name in names)


@pytest.fixture(scope="module")
def browser():
    need(CHROMIUM, "no Chromium: apt-get install chromium (or set COURSE_CHROMIUM)")
    need(importlib_ok("playwright"), "playwright is not installed (.[site])")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


class Visit:
    """A page opened with every request that is not to 127.0.0.1 blocked and counted, and its script errors."""

    def __init__(self, browser, url):
        self.page = browser.new_page()
        self.outside, self.errors = [], []
        self.page.route("**/*", self._route)
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url, wait_until="load")

    def _route(self, route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def close(self):
        self.page.close()


PARAMETERS = 'smoke = False\nepochs = 5\nSMOKE = {"epochs": 1}\n'


def lessons(course):
    return lesson_files(course, strict=True)


def test_every_page_loads_with_no_error_and_no_request_outside(site, browser):
    course, _, base = site
    for path in ["index.html", "report.html", *(f"lessons/{lesson.stem}.html" for lesson in lessons(course))]:
        visit = Visit(browser, f"{base}/{path}")
        visit.page.wait_for_load_state("networkidle")
        assert visit.errors == [], f"{path}: {visit.errors}"
        assert visit.outside == [], f"{path} asked a third party for {visit.outside}"
        visit.close()


def test_lesson_pages_link_colab_as_the_readme_badge_does_and_say_which_run(site, browser):
    course, folder, base = site
    config = load_config(course)
    readme = (course / "README.md").read_text(encoding="utf-8")
    for lesson in lessons(course):
        visit = Visit(browser, f"{base}/lessons/{lesson.stem}.html")
        opened = opened_folder(lesson)  # a lesson with exercises opens as its student version
        href = visit.page.get_attribute("a.colab-link", "href")
        assert href == config.colab_url(lesson.name, opened) and f"]({href})" in readme, lesson.name
        download = visit.page.get_attribute("a.download-link", "href")
        assert (folder / "lessons" / download).resolve().read_bytes() == (course / opened / lesson.name).read_bytes()
        text = visit.page.inner_text("main")
        secrets = read_exercises(notebooks.read_notebook(lesson)).secret_lines()
        assert bool(secrets) == (opened != "lessons"), lesson.name
        assert not [line for line in secrets if line in text or line in visit.page.content()], lesson.name
        said = " ".join(text.split())
        assert "The outputs below come from course test, smoke parameters, on cpu" in said
        assert "a smoke run, whose small, quick parameters only check that the lesson runs" in said
        assert str(course) not in visit.page.content(), "a path of the teacher's machine is on the page"
        sizes = visit.page.eval_on_selector_all("main img", "images => images.map(i => [i.src, i.naturalWidth])")
        assert sizes and all(width > 0 for _, width in sizes), sizes
        if lesson.stem.startswith("01"):
            visit.page.screenshot(path=str(ROOT / "build" / "site-lesson-01.png"), full_page=False)
        visit.close()


def test_next_reaches_every_lesson_in_order_and_the_sidebar_keeps_titles_as_typed(site, browser):
    course, _, base = site
    names = [lesson.stem for lesson in lessons(course)]
    visit = Visit(browser, f"{base}/lessons/{names[0]}.html")
    seen = [names[0]]
    for _ in names[1:]:
        visit.page.click("a.right-next")
        visit.page.wait_for_load_state("load")
        seen.append(visit.page.url.rsplit("/", 1)[-1].removesuffix(".html"))
    assert seen == names
    sidebar = visit.page.inner_text("nav.bd-links")
    from colab_course_tools.authoring.readme import lesson_title

    assert all(lesson_title(lesson) in sidebar for lesson in lessons(course)), sidebar
    visit.close()


def test_search_from_the_built_files_finds_a_word_of_lesson_02(site, browser):
    course, _, base = site
    sources = {lesson.stem: lesson.read_text(encoding="utf-8") for lesson in lessons(course)}
    assert [stem for stem, text in sources.items() if ONLY_IN_02 in text] == ["02_data_and_checkpoints"]
    visit = Visit(browser, f"{base}/search.html?q={ONLY_IN_02}")
    visit.page.wait_for_selector("ul.search li a", timeout=30_000)
    found = visit.page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.href)")
    assert any("02_data_and_checkpoints" in link for link in found), found
    assert visit.outside == []
    visit.close()


def test_the_report_page_lists_every_lesson(site, browser):
    course, _, base = site
    visit = Visit(browser, f"{base}/report.html")
    text = visit.page.inner_text("main")
    assert all(lesson.stem in text for lesson in lessons(course)) and "passed" in text
    visit.close()


def test_the_report_page_shows_metrics_with_their_bands_and_draws_the_band_chart(site, browser):
    course, folder, base = site
    visit = Visit(browser, f"{base}/report.html")
    text = visit.page.inner_text("main")
    assert "Metrics and their bands" in text and "accuracy (headline)" in text and "within" in text
    chart = visit.page.locator("img[alt^='01_first_model']")
    assert chart.count() == 1
    chart.scroll_into_view_if_needed()
    assert chart.evaluate("image => image.complete && image.naturalWidth > 300")  # drawn, from the site itself
    visit.close()
    drawings = [path.read_text(encoding="utf-8") for path in folder.rglob("01_first_model*.svg")]
    assert drawings and all("<svg" in drawing for drawing in drawings)
    for drawing in drawings:  # glyphs drawn as paths: no font to fetch, no script
        assert "<script" not in drawing and "<text" not in drawing and "@font-face" not in drawing


def test_links_are_checked_offline_by_lychee(site):
    _, folder, _ = site
    lychee = shutil.which("lychee") or str(Path(sys.executable).with_name("lychee"))
    need(Path(lychee).exists(), "lychee is not installed (.[site])")
    done = subprocess.run(
        [lychee, "--offline", "--no-progress", "--exclude-path", str(folder / "_static"), str(folder)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_huge_output_is_left_out_with_a_note_and_a_lesson_that_never_ran_says_so(tmp_path, course_cli):
    need(importlib_ok("sphinx", "myst_nb", "sphinx_book_theme"), "the site tools are not installed (.[site])")
    from colab_course_tools.testing import tiny_course, write_notebook

    course = tiny_course(tmp_path / "course", site_max_output_mb=0.5)
    (course / "README.md").write_text("# Tiny\n\n<!-- lessons:start -->\n<!-- lessons:end -->\n")
    huge = "from IPython.display import HTML\nHTML('<p>' + 'x' * 2_000_000 + '</p>')"  # display data: not capped
    write_notebook(course / "lessons" / "00_big.ipynb", ("md", "# Big"), huge)
    write_notebook(course / "lessons" / "01_never.ipynb", ("md", "# Never ran"), "x = 1")
    assert course_cli("test", "00", cwd=course).returncode == 0
    built = course_cli("site", cwd=course)
    assert built.returncode == 0, built.stdout + built.stderr
    big = (course / "build" / "site" / "lessons" / "00_big.html").read_text(encoding="utf-8")
    assert "was left out of the site: over site_max_output_mb = 0.5" in big and "x" * 10_000 not in big
    never = (course / "build" / "site" / "lessons" / "01_never.html").read_text(encoding="utf-8")
    assert "This lesson has not been run yet" in never


def test_serve_shows_the_site_on_loopback_rebuilds_a_changed_lesson_and_ctrl_c_stops_it(tmp_path, subprocess_env):
    need(importlib_ok("sphinx", "myst_nb", "sphinx_book_theme"), "the site tools are not installed (.[site])")
    import re
    import signal
    import urllib.request

    from colab_course_tools.testing import tiny_course, write_notebook

    course = tiny_course(tmp_path / "course")
    (course / "README.md").write_text("# Tiny\n\n<!-- lessons:start -->\n<!-- lessons:end -->\n")
    write_notebook(course / "lessons" / "00_first.ipynb", ("md", "# First"), "x = 1")
    server = subprocess.Popen(
        [sys.executable, "-m", testing.TOOLS, "site", "--serve", "--port", "0"],
        cwd=course,
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        address = None
        for line in server.stdout:
            found = re.search(r"serving (http://127\.0\.0\.1:\d+/)", line)
            if found:
                address = found[1]
                break
        assert address, "no address printed"
        with urllib.request.urlopen(address + "lessons/00_first.html", timeout=10) as page:
            assert page.status == 200 and b"First" in page.read()
        write_notebook(course / "lessons" / "00_first.ipynb", ("md", "# First, edited"), "x = 2")
        rebuilt = next(line for line in server.stdout if "course site: " in line)
        assert re.match(r"course site: rebuilt in [\d.]+ s: lessons/00_first\.ipynb", rebuilt), rebuilt
        with urllib.request.urlopen(address + "lessons/00_first.html", timeout=10) as page:
            assert b"First, edited" in page.read()
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        rest, _ = server.communicate(timeout=20)
    finally:
        server.kill()
    assert server.returncode == 0 and "course site: stopped" in rest


def test_a_missing_image_fails_the_build_and_names_the_file(tmp_path, course_cli):
    need(importlib_ok("sphinx", "myst_nb", "sphinx_book_theme"), "the site tools are not installed (.[site])")
    from colab_course_tools.testing import tiny_course, write_notebook

    course = tiny_course(tmp_path / "course")
    (course / "README.md").write_text("# Tiny\n\n<!-- lessons:start -->\n<!-- lessons:end -->\n")
    write_notebook(course / "lessons" / "00_broken.ipynb", ("md", "# Broken\n\n![a plot](no_such_plot.png)"))
    built = course_cli("site", cwd=course)
    assert built.returncode == 1
    (line,) = built.stderr.strip().splitlines()
    assert line.startswith("course site: error: the site did not build: ") and "lessons/00_broken" in line, line
    assert "no_such_plot.png" in line
    again = course_cli("site", cwd=course)  # nothing changed: still broken, never taken as built
    assert again.returncode == 1 and "no_such_plot.png" in again.stderr
    write_notebook(course / "lessons" / "00_broken.ipynb", ("md", "# Fixed"))
    fixed = course_cli("site", cwd=course)
    assert fixed.returncode == 0, fixed.stderr


def test_widgets_keep_their_static_form_or_become_a_note():
    from colab_course_tools.site.pages import WIDGET, _static_form

    with_image = {
        "output_type": "display_data",
        "data": {WIDGET: {"model_id": "1"}, "image/png": "iVBOR", "text/plain": "w"},
    }
    assert _static_form(with_image)["data"] == {"image/png": "iVBOR"}
    bare = {"output_type": "display_data", "data": {WIDGET: {"model_id": "2"}, "text/plain": "IntSlider(value=3)"}}
    assert "needs a running notebook" in _static_form(bare)["text"]


def test_pages_fit_a_1280_pixel_window_without_scrolling_sideways(site, browser):
    """The home page scrolled sideways at 1280 px, and lesson code wider than the page scrolled too."""
    course, _, base = site
    for path in ["index.html", "report.html", *(f"lessons/{lesson.stem}.html" for lesson in lessons(course))]:
        visit = Visit(browser, f"{base}/{path}")
        visit.page.set_viewport_size({"width": 1280, "height": 900})
        widths = visit.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide in a {widths[1]} px window"
        scrolling = visit.page.eval_on_selector_all(
            "main pre",
            "blocks => blocks.filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.innerText.slice(0, 60))",
        )
        assert scrolling == [], f"{path}: code that scrolls sideways: {scrolling}"
        visit.close()


def test_the_site_publishes_a_full_run_over_a_newer_smoke_one(tmp_path, course_cli):
    """What a teacher met: after a full `course test`, one smoke `course run` put smoke outputs on the public page."""
    need(importlib_ok("sphinx", "myst_nb", "sphinx_book_theme"), "the site tools are not installed (.[site])")
    from colab_course_tools.testing import lesson_notebook, tiny_course

    code = "print(f'trained for {epochs} epochs')"
    lesson = lesson_notebook(("md", "# 00 · Training"), code, parameters=PARAMETERS)
    course = tiny_course(tmp_path / "course", {"00_train": lesson})
    (course / "README.md").write_text("# Tiny\n\n<!-- lessons:start -->\n<!-- lessons:end -->\n")
    assert course_cli("test", "00", cwd=course).returncode == 0  # full size: 5 epochs
    assert course_cli("run", "00", "-q", cwd=course).returncode == 0  # later, smoke: 1 epoch
    built = course_cli("site", cwd=course, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "show a smoke run" not in built.stdout and "shows a smoke run" not in built.stdout
    page = (course / "build" / "site" / "lessons" / "00_train.html").read_text(encoding="utf-8")
    assert "trained for 5 epochs" in page and "trained for 1 epochs" not in page
    assert "full parameters" in page
