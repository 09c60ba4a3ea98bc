"""A course made with cruft from a local git copy of the template takes later template changes."""

import shutil

import pytest

from conftest import BIN, run, tool_env
from deep_learning_course.testing import course_cli

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
    in_course = {**env, "PYTHONPATH": str(course / "src")}
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
