"""Real bakes of the template: defaults, Unicode titles, every option value, the generated files."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from cookiecutter.main import cookiecutter

from colab_course_tools.lessons import lesson_files
from colab_course_tools.testing import git
from conftest import CHOICE_KEYS, DEFAULTS, bake_into, import_path

LESSONS = ["00_environment.ipynb", "01_first_model.ipynb", "02_data_and_checkpoints.ipynb"]
UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%|\{#")


def course_table(course):
    return tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["course"]


def course_files(course):
    return sorted(p for p in course.rglob("*") if p.is_file() and ".git" not in p.relative_to(course).parts)


def setup_source(notebook):
    return "".join(nbformat.read(notebook, as_version=4).cells[0].source)


def test_defaults_give_a_complete_course(default_course):
    assert default_course.name == "deep-learning-course"
    expected = {
        "README.md",
        "LICENSE",
        "pyproject.toml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "snippets/colab_snippets.ipynb",
        "src/deep_learning_course/__init__.py",
        "src/deep_learning_course/bootstrap.py",
        "tools/pyproject.toml",
        "tools/README.md",
        "tools/docs/package.md",
        "tools/src/colab_course_tools/__init__.py",
        "tools/src/colab_course_tools/__main__.py",
        "tests/conftest.py",
        ".github/workflows/lessons-cpu.yml",
        ".github/workflows/lessons-gpu.yml",
        ".github/dependabot.yml",
        "constraints/ci.txt",
        "data-checksums.txt",
        *(f"lessons/{name}" for name in LESSONS),
    }
    present = {p.relative_to(default_course).as_posix() for p in course_files(default_course)}
    assert expected <= present, f"missing: {sorted(expected - present)}"
    assert not [p for p in present if "__pycache__" in p or p.endswith(".pyc")]
    top_level = {p.name for p in default_course.iterdir()} - {".git"}
    assert top_level <= {
        "README.md",
        "LICENSE",
        "pyproject.toml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "lessons",
        "student",
        "snippets",
        "src",
        "tools",
        "tests",
        ".github",
        "constraints",
        "docs",
        "data-checksums.txt",
        "lesson-durations.json",
        "lesson-bands.json",
    }, "unexpected files at the top of the course"
    assert course_table(default_course) == {
        "title": "Deep Learning Course",
        "package": "deep_learning_course",
        "github_user": "your-github-user",
        "github_repo": "deep-learning-course",
        "branch": "main",
        "drive_folder": "courses/deep-learning-course",
        "ci_shards": 2,
    }


def test_nothing_is_left_unrendered(default_course):
    for path in [default_course, *default_course.rglob("*")]:
        relative = path.relative_to(default_course)
        if ".git" in relative.parts:
            continue
        assert "{{" not in str(relative) and "{%" not in str(relative), relative
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not UNRENDERED.search(text), f"template syntax left in {relative}"


def test_pyproject_pins_the_tools_in_its_dev_extra_and_no_exact_torch(default_course):
    project = tomllib.loads((default_course / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    tools = tomllib.loads((default_course / "tools/pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "scripts" not in project, "the `course` command is the tools'"
    assert tools["scripts"]["course"] == "colab_course_tools.cli:main"
    version = re.search(
        r'__version__ = "(.+)"', (default_course / "tools/src/colab_course_tools/__init__.py").read_text()
    )
    assert f"colab-course-tools=={version[1]}" in project["optional-dependencies"]["dev"]
    assert not [d for d in project["dependencies"] if d.startswith(("colab-course-tools", "papermill", "nbformat"))]
    torch_requirements = [d for d in project["dependencies"] if re.match(r"torch\b", d)]
    assert torch_requirements and not [d for d in torch_requirements if "==" in d]
    constraints = (default_course / "constraints/ci.txt").read_text(encoding="utf-8").splitlines()
    assert [line for line in constraints if re.fullmatch(r"torch==[\w.+]+", line)], "CI pins torch"
    assert project["requires-python"] == ">=3.11"


def test_every_notebook_is_valid_with_setup_and_parameters_cells(default_course):
    for notebook in sorted(default_course.rglob("*.ipynb")):
        nb = nbformat.read(notebook, as_version=4)
        nbformat.validate(nb)
        assert not [c for c in nb.cells if c.cell_type == "code" and c.outputs], f"outputs in {notebook.name}"
    lessons = lesson_files(default_course)
    assert [p.name for p in lessons][: len(LESSONS)] == LESSONS
    setup_cells = set()
    for lesson in lessons:
        nb = nbformat.read(lesson, as_version=4)
        assert "setup" in nb.cells[0].metadata.get("tags", []), f"{lesson.name}: cell 1 is not tagged setup"
        assert [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])], f"{lesson.name}: no parameters cell"
        assert nb.metadata.kernelspec.name == "python3"
        setup_cells.add(setup_source(lesson))
    assert len(setup_cells) == 1, "setup cells differ between lessons"
    assert "import deep_learning_course as course" in setup_cells.pop()


@pytest.mark.parametrize(
    "title, project, package",
    [
        ("Глубокое обучение 2026", "glubokoe-obuchenie-2026", "glubokoe_obuchenie_2026"),
        ("深度学习课程", "shen-du-xue-xi-ke-cheng", "shen_du_xue_xi_ke_cheng"),
    ],
)
def test_unicode_title_gives_ascii_names_and_stays_as_typed(bake, title, project, package):
    course = bake(course_name=title, init_git="no")
    assert course.name == project
    assert course_table(course)["title"] == title
    assert course_table(course)["package"] == package
    assert (course / "src" / package / "__init__.py").is_file()
    assert (course / "README.md").read_text(encoding="utf-8").startswith(f"# {title}\n")
    for lesson in lesson_files(course):
        assert title in setup_source(lesson), lesson.name
    imported = subprocess.run(
        [sys.executable, "-c", f"import {package} as course; print(course.__name__)"],
        env={**os.environ, "PYTHONPATH": import_path(course)},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == package


def test_title_starting_with_a_digit_gets_an_importable_default_package(bake):
    course = bake(course_name="2026 Spring ML", init_git="no")
    assert course.name == "2026-spring-ml"
    assert course_table(course)["package"] == "course_2026_spring_ml"


def test_baked_package_imports_without_torch(default_course):
    code = (
        "import sys, deep_learning_course as course; "
        "assert callable(course.setup) and issubclass(course.CourseError, Exception); "
        "assert 'torch' not in sys.modules and 'fastai' not in sys.modules; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": import_path(default_course)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_badges_point_to_colab_for_the_repo_branch_and_lesson(bake):
    course = bake(github_user="octo-teacher", github_repo="dl.course_2026", branch="spring/2026", init_git="no")
    readme = (course / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- lessons:start -->")[1].split("<!-- lessons:end -->")[0]
    badge_urls = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)\s]+)\)", table)
    lessons = [p.name for p in lesson_files(course)]
    opened = ["student/lessons" if (course / "student" / "lessons" / name).is_file() else "lessons" for name in lessons]
    assert "student/lessons" in opened and "lessons" in opened  # a lesson with exercises opens its student version
    assert badge_urls == [
        f"https://colab.research.google.com/github/octo-teacher/dl.course_2026/blob/spring/2026/{folder}/{name}"
        for folder, name in zip(opened, lessons, strict=True)
    ]
    snippets = "https://colab.research.google.com/github/octo-teacher/dl.course_2026/blob/spring/2026/snippets/colab_snippets.ipynb"
    assert f"`{snippets}`" in readme and (course / "snippets/colab_snippets.ipynb").is_file()


@pytest.mark.parametrize(
    "license, first_line",
    [
        ("MIT", "MIT License"),
        ("Apache-2.0", "Apache License"),
        ("CC-BY-4.0", "Attribution 4.0 International"),
    ],
)
def test_license_file_holds_the_full_text(bake, license, first_line):
    course = bake(license=license, author="Ada Lovelace", init_git="no")
    text = (course / "LICENSE").read_text(encoding="utf-8")
    assert text.splitlines()[0].strip() == first_line
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert len(text) > {"MIT": 1000, "Apache-2.0": 11000, "CC-BY-4.0": 18000}[license]
    if license == "MIT":
        assert "Copyright (c) Ada Lovelace\n" in text
    assert f"{license}, see [LICENSE](LICENSE)" in (course / "README.md").read_text(encoding="utf-8")


def test_license_none_leaves_no_license_file(bake):
    course = bake(license="none", init_git="no")
    assert not (course / "LICENSE").exists()
    assert "LICENSE" not in (course / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("gpu_ci", ["self-hosted", "none"])
def test_gpu_workflow_only_when_asked(bake, gpu_ci):
    course = bake(gpu_ci=gpu_ci, init_git="no")
    assert (course / ".github/workflows/lessons-gpu.yml").exists() == (gpu_ci == "self-hosted")
    assert (course / ".github/workflows/lessons-cpu.yml").exists(), "the CPU workflow is always there"


def test_python_version_sets_requires_python(bake):
    course = bake(python_version="3.12", init_git="no")
    project = tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.12"


OPTION_COMBINATIONS = [
    *({key: value} for key in CHOICE_KEYS for value in DEFAULTS[key]),
    {key: DEFAULTS[key][-1] for key in CHOICE_KEYS},  # everything turned off at once
]


@pytest.mark.parametrize(
    "answers",
    OPTION_COMBINATIONS,
    ids=[",".join(f"{key}={value}" for key, value in answers.items()) for answers in OPTION_COMBINATIONS],
)
def test_every_option_value_bakes(bake, answers):
    """Each value of each choice once (the others at their defaults), as cookiecutter-django does."""
    course = bake(**answers)
    assert course_table(course)["package"] == "deep_learning_course"
    for notebook in course.rglob("*.ipynb"):
        nbformat.validate(nbformat.read(notebook, as_version=4))


def test_init_git_makes_one_clean_commit_on_the_branch(bake, capfd):
    course = bake(branch="spring-2026")
    assert git(course, "rev-parse", "--abbrev-ref", "HEAD").strip() == "spring-2026"
    assert git(course, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(course, "status", "--porcelain") == ""
    assert "lessons/00_environment.ipynb" in git(course, "ls-files")
    out = capfd.readouterr().out
    assert "git remote add origin https://github.com/your-github-user/deep-learning-course.git" in out
    assert "git push -u origin spring-2026" in out
    assert (
        "https://colab.research.google.com/github/your-github-user/deep-learning-course/blob/"
        "spring-2026/lessons/00_environment.ipynb" in out
    )


def test_init_git_no_leaves_no_repository(bake, capfd):
    course = bake(init_git="no")
    assert not (course / ".git").exists()
    out = capfd.readouterr().out
    assert 'git init -b main && git add --all && git commit -m "Create the course from the template"' in out
    assert 'Note: "your-github-user" is a placeholder' in out
    lines = out.splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install -e ./tools -e '.[dev]'" in line)
    assert install < next(i for i, line in enumerate(lines) if "course sync" in line), "install before `course`"
    bake(github_user="octo-teacher", project="other")
    assert "placeholder" not in capfd.readouterr().out


def test_commit_uses_the_answers_when_git_has_no_identity(bake, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    course = bake(author="Ada Lovelace", email="ada@example.org")
    assert git(course, "log", "-1", "--format=%an <%ae>").strip() == "Ada Lovelace <ada@example.org>"


def test_without_git_the_bake_succeeds_and_says_how(bake, tmp_path, monkeypatch, capfd):
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    course = bake()
    assert not (course / ".git").exists()
    assert "git was not found" in capfd.readouterr().out


def test_title_with_quotes_and_backslashes_stays_valid(bake):
    title = 'Tom\'s "Deep" Learning \\ C:\\data\\ ü'
    course = bake(course_name=title, init_git="no")
    assert course.name == "tom-s-deep-learning-c-data-u"
    assert course_table(course)["title"] == title
    for notebook in sorted(course.rglob("*.ipynb")):
        nbformat.validate(nbformat.read(notebook, as_version=4))
        json.loads(notebook.read_text(encoding="utf-8"))
    for lesson in (course / "lessons").glob("*.ipynb"):
        compile(setup_source(lesson), lesson.name, "exec")
        assert title in setup_source(lesson)
    assert f"# {title}\n" in (course / "README.md").read_text(encoding="utf-8")


def test_baking_is_deterministic_and_rebaking_in_place_is_safe(tmp_path, cookiecutter_config, template):
    first = bake_into(tmp_path / "a", cookiecutter_config, template, init_git="no")
    second = bake_into(tmp_path / "b", cookiecutter_config, template, init_git="no")

    def contents(course):
        return {p.relative_to(course): p.read_bytes() for p in course_files(course)}

    assert contents(first) == contents(second)

    committed = bake_into(tmp_path / "c", cookiecutter_config, template)
    before = contents(committed)
    again = Path(
        cookiecutter(
            str(template),
            no_input=True,
            output_dir=str(tmp_path / "c"),
            overwrite_if_exists=True,
            config_file=str(cookiecutter_config),
        )
    )
    assert again == committed and contents(again) == before
    assert git(again, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(again, "status", "--porcelain") == ""


def test_every_relative_link_of_the_course_readme_and_docs_reaches_a_file(default_course):
    """The README stays short by linking its reference parts in docs/: each of those links must work."""
    pages = [default_course / "README.md", *sorted((default_course / "docs").glob("*.md"))]
    assert {page.name for page in pages} >= {"README.md", "running-lessons.md", "security.md", "colab-versions.md"}
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []
    readme = (default_course / "README.md").read_text(encoding="utf-8")
    teachers = " ".join(readme[readme.index("## Teachers") : readme.index("## Experiments")].split())
    assert len(teachers.split()) < 600, "the teacher's first screen: details belong in docs/"
    assert "files were modified by this hook" in teachers and "`git add`" in teachers


def test_the_student_section_installs_what_it_runs_and_points_at_the_student_versions(default_course):
    """A student's local path ran `jupyter lab lessons/` with JupyterLab in no extra, and `lessons/` holds the
    teacher's solutions."""
    readme = (default_course / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**On your own computer**") : readme.index("## Teachers")]
    commands = re.search(r"```bash\n(.*?)```", section, re.S)[1]
    assert "pip install -e . jupyterlab" in commands and "colab-course-tools" not in commands
    assert "jupyter lab lessons/" not in commands and "Open a lesson from `student/lessons/`" in section
