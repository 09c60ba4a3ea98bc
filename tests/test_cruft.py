"""A course made with cruft from a local git copy of the template takes later template changes."""

import shutil

import pytest

from colab_course_tools.testing import course_cli
from conftest import BIN, import_path, run, tool_env

CRUFT = BIN / "cruft"


@pytest.fixture
def template_repo(template, tmp_path):
    """The template in a git repository of its own, as a fork or a local clone would be."""
    repo = tmp_path / "template"
    shutil.copytree(template, repo)
    env = tool_env(tmp_path)
    run(["git", "init", "--quiet", "--initial-branch", "main"], repo, env)
    run(["git", "add", "--all"], repo, env)
    run(["git", "commit", "--quiet", "-m", "Template"], repo, env)
    return repo, env


def test_cruft_update_brings_template_changes_and_keeps_the_course(template_repo, tmp_path, cookiecutter_config):
    repo, env = template_repo
    env["COOKIECUTTER_CONFIG"] = str(cookiecutter_config)
    out = tmp_path / "courses"
    run([CRUFT, "create", repo.as_uri(), "--no-input", "--output-dir", out], tmp_path, env)
    course = out / "deep-learning-course"
    run(["git", "add", ".cruft.json"], course, env)
    run(["git", "commit", "--quiet", "-m", "Link the course to its template"], course, env)
    assert run([CRUFT, "check"], course, env).returncode == 0

    # The teacher works on the course ...
    in_course = {**env, "PYTHONPATH": import_path(course)}
    assert course_cli("new", "Attention", cwd=course, env=in_course).returncode == 0
    run(["git", "add", "--all"], course, env)
    run(["git", "commit", "--quiet", "-m", "Add a lesson on attention"], course, env)
    # ... while the template improves: a README line changes and a new file appears.
    readme = repo / "{{cookiecutter.project}}" / "README.md"
    text = readme.read_text(encoding="utf-8")
    old_line = next(line for line in text.splitlines() if line.startswith("Lessons are Jupyter notebooks"))
    readme.write_text(text.replace(old_line, old_line + " (updated)"), encoding="utf-8")
    (repo / "{{cookiecutter.project}}" / "UPDATING.md").write_text(
        "# Updating {{ cookiecutter.course_name }}\n\nRun `cruft update`.\n", encoding="utf-8"
    )
    run(["git", "add", "--all"], repo, env)
    run(["git", "commit", "--quiet", "-m", "Improve the README, add UPDATING.md"], repo, env)

    check = run([CRUFT, "check"], course, env, check=False)
    assert check.returncode == 1 and "out of date" in check.stdout

    update = run([CRUFT, "update", "--skip-apply-ask"], course, env)
    assert "Failed to apply" not in update.stdout + update.stderr
    assert not list(course.rglob("*.rej"))
    readme_now = (course / "README.md").read_text(encoding="utf-8")
    assert old_line + " (updated)" in readme_now  # the template's change
    assert "[03 · Attention](lessons/03_attention.ipynb)" in readme_now  # the teacher's lesson is still listed
    assert (course / "UPDATING.md").read_text(encoding="utf-8").startswith("# Updating Deep Learning Course\n")
    assert run([CRUFT, "check"], course, env).returncode == 0
    assert course_cli("check", cwd=course, env=in_course).returncode == 0


def test_a_tools_update_reaches_an_edited_course_in_one_command_without_conflicts(
    template_repo, tmp_path, cookiecutter_config
):
    """The teacher added a module, edited a lesson and the README; the template then releases new tools (a changed
    module and a new version, with the course's pin). `cruft update` brings them with no conflict and leaves every
    file the teacher edited as the teacher left it."""
    repo, env = template_repo
    env["COOKIECUTTER_CONFIG"] = str(cookiecutter_config)
    out = tmp_path / "courses"
    run([CRUFT, "create", repo.as_uri(), "--no-input", "--output-dir", out], tmp_path, env)
    course = out / "deep-learning-course"
    run(["git", "add", ".cruft.json"], course, env)
    run(["git", "commit", "--quiet", "-m", "Link the course to its template"], course, env)

    teachers = {
        "src/deep_learning_course/models.py": "import torch\n\nLAYERS = 3\n",
        "README.md": (course / "README.md").read_text(encoding="utf-8") + "\nOffice hours: Tuesdays.\n",
        "lessons/01_first_model.ipynb": (course / "lessons/01_first_model.ipynb")
        .read_text(encoding="utf-8")
        .replace("A first model: recognising", "Your first model: recognising", 1),
    }
    for name, text in teachers.items():
        (course / name).write_text(text, encoding="utf-8")
    run(["git", "add", "--all"], course, env)
    run(["git", "commit", "--quiet", "-m", "My module, lesson and README"], course, env)

    tools = repo / "{{cookiecutter.project}}" / "tools"
    init = tools / "src" / "colab_course_tools" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8").replace('__version__ = "1.0.0"', '__version__ = "1.0.1"'))
    report = tools / "src" / "colab_course_tools" / "harness" / "report.py"
    report.write_text(report.read_text(encoding="utf-8") + "\n# 1.0.1: a fix to the report\n", encoding="utf-8")
    pyproject = repo / "{{cookiecutter.project}}" / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace("colab-course-tools==1.0.0", "colab-course-tools==1.0.1")
    )
    run(["git", "add", "--all"], repo, env)
    run(["git", "commit", "--quiet", "-m", "Tools 1.0.1"], repo, env)

    update = run([CRUFT, "update", "--skip-apply-ask"], course, env)
    assert "Failed to apply" not in update.stdout + update.stderr
    assert not list(course.rglob("*.rej")) and not list(course.rglob("*.orig"))
    assert run(["git", "diff", "--name-only", "--diff-filter=U"], course, env).stdout == ""
    changed = set(run(["git", "status", "--porcelain"], course, env).stdout.split()[1::2])
    assert changed == {
        ".cruft.json",
        "pyproject.toml",
        "tools/src/colab_course_tools/__init__.py",
        "tools/src/colab_course_tools/harness/report.py",
    }
    for name, text in teachers.items():
        assert (course / name).read_text(encoding="utf-8") == text, name
    assert "colab-course-tools==1.0.1" in (course / "pyproject.toml").read_text(encoding="utf-8")
    assert "1.0.1: a fix" in (course / "tools/src/colab_course_tools/harness/report.py").read_text(encoding="utf-8")
