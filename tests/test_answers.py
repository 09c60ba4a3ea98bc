"""Bad answers stop the bake in pre_gen_project.py: one line naming the answer and the fix, no folder."""

import json
import subprocess

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from conftest import BIN, DEFAULTS, bake_into

BAD_ANSWERS = {
    "empty-name": ({"course_name": ""}, "ERROR: course_name is empty; type the course title"),
    "blank-name": ({"course_name": "   ", "project": "x"}, "ERROR: course_name is empty"),
    "name-with-newline": ({"course_name": "Deep\nLearning"}, "ERROR: course_name contains a line break"),
    "project-spaces-capitals": (
        {"project": "My Course"},
        'ERROR: project "My Course" may contain only lowercase ASCII letters, digits and dashes; use e.g. "my-course"',
    ),
    "project-leading-dash": (
        {"project": "-course", "package": "course_x"},
        'ERROR: project "-course" starts or ends with a dash; use "course"',
    ),
    "project-trailing-dash": ({"project": "dl-", "package": "dl"}, 'ERROR: project "dl-" starts or ends with a dash'),
    "package-digit": (
        {"package": "2026_course"},
        'ERROR: package "2026_course" starts with a digit; choose another, e.g. "course_2026_course"',
    ),
    "package-keyword": (
        {"package": "class"},
        'ERROR: package "class" is a Python keyword; choose another, e.g. "class_course"',
    ),
    "package-not-identifier": ({"package": "my-course"}, 'ERROR: package "my-course" is not a valid import name'),
    "package-capitals": ({"package": "MyCourse"}, 'ERROR: package "MyCourse" is not a valid import name'),
    "package-torch": ({"package": "torch"}, 'ERROR: package "torch" would shadow the module "torch"'),
    "package-fastai": ({"package": "fastai"}, 'ERROR: package "fastai" would shadow the module "fastai"'),
    "package-random": ({"package": "random"}, 'ERROR: package "random" would shadow the module "random"'),
    "package-test": ({"package": "test"}, 'ERROR: package "test" would shadow the module "test"'),
    "package-pil": ({"package": "pil"}, 'ERROR: package "pil" would shadow'),
    "package-course": ({"package": "course"}, 'ERROR: package "course" would shadow'),
    "author-empty": ({"author": " "}, "ERROR: author is empty or spans several lines; type a name"),
    "email-no-at": ({"email": "teacher.example.com"}, 'ERROR: email "teacher.example.com" is not an e-mail address'),
    "email-space": ({"email": "a b@example.com"}, 'ERROR: email "a b@example.com" is not an e-mail address'),
    "github-user-leading-hyphen": (
        {"github_user": "-teacher"},
        'ERROR: github_user "-teacher" is not a valid GitHub user name',
    ),
    "github-user-double-hyphen": (
        {"github_user": "deep--teacher"},
        'ERROR: github_user "deep--teacher" is not a valid GitHub user name',
    ),
    "github-user-too-long": ({"github_user": "a" * 40}, "is not a valid GitHub user name (1-39 letters"),
    "github-user-underscore": ({"github_user": "deep_teacher"}, 'ERROR: github_user "deep_teacher"'),
    "github-repo-space": (
        {"github_repo": "deep course"},
        'ERROR: github_repo "deep course" is not a valid GitHub repository name',
    ),
    "github-repo-dot-git": (
        {"github_repo": "course.git"},
        'ERROR: github_repo "course.git" ends with ".git"; type the name without it: "course"',
    ),
    "branch-space": ({"branch": "spring 2026"}, 'ERROR: branch "spring 2026" is not a valid git branch name'),
    "branch-dots": ({"branch": "a..b"}, 'ERROR: branch "a..b" is not a valid git branch name'),
    "branch-head": ({"branch": "HEAD"}, 'ERROR: branch "HEAD" is not a valid git branch name'),
    "branch-shorthand": ({"branch": "@{-1}"}, 'ERROR: branch "@{-1}" is not a valid git branch name'),
    "branch-backslash": ({"branch": "a\\b"}, "is not a valid git branch name"),
    "branch-lock": ({"branch": "main.lock"}, 'ERROR: branch "main.lock"'),
    "branch-leading-dash": ({"branch": "-main"}, 'ERROR: branch "-main"'),
    "branch-trailing-slash": ({"branch": "main/"}, 'ERROR: branch "main/"'),
    "drive-absolute": (
        {"drive_folder": "/content/drive/MyDrive/dl"},
        'ERROR: drive_folder "/content/drive/MyDrive/dl" is absolute; give a folder relative to MyDrive',
    ),
    "drive-dotdot": ({"drive_folder": "courses/../../etc"}, 'ERROR: drive_folder "courses/../../etc" contains ".."'),
    "drive-mydrive-prefix": ({"drive_folder": "MyDrive/courses/dl"}, 'drop the prefix: "courses/dl"'),
    "python-2": ({"python_version": "2.7"}, 'ERROR: python_version "2.7" must look like "3.N", e.g. "3.11"'),
    "python-bare-3": ({"python_version": "3"}, 'ERROR: python_version "3" must look like "3.N"'),
    "python-patch": ({"python_version": "3.11.4"}, 'ERROR: python_version "3.11.4" must look like "3.N"'),
    "python-too-old": ({"python_version": "3.9"}, 'ERROR: python_version "3.9" is older than 3.10'),
}


def assert_nothing_written(output):
    assert not output.exists() or not any(output.iterdir()), f"left behind: {list(output.iterdir())}"


@pytest.mark.parametrize("answers, message", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_stops_with_one_clear_line(tmp_path, cookiecutter_config, template, capfd, answers, message):
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake_into(output, cookiecutter_config, template, **answers)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert any(message in line for line in errors), errors
    assert_nothing_written(output)


@pytest.mark.parametrize("key", ["license", "gpu_ci", "init_git"])
def test_unknown_option_is_refused_before_anything_is_written(tmp_path, cookiecutter_config, template, key):
    output = tmp_path / "out"
    with pytest.raises(ValueError, match=f"GPL provided for choice variable {key}, but the choices are"):
        bake_into(output, cookiecutter_config, template, **{key: "GPL"})
    assert_nothing_written(output)


@pytest.mark.parametrize("key", ["license", "gpu_ci", "init_git"])
def test_unknown_option_in_a_replayed_context_stops_in_the_hook(tmp_path, cookiecutter_config, template, capfd, key):
    """Replay files (and edited answer files) skip cookiecutter's own choice check; the hook does not."""
    answers = {k: (v[0] if isinstance(v, list) else v) for k, v in DEFAULTS.items() if not k.startswith("_")}
    answers.update(
        course_name="Deep Learning Course",
        project="deep-learning-course",
        package="deep_learning_course",
        github_repo="deep-learning-course",
        drive_folder="courses/deep-learning-course",
        **{key: "GPL"},
    )
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"cookiecutter": {**answers, "_template": str(template)}}), encoding="utf-8")
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        cookiecutter(str(template), replay=str(replay), output_dir=str(output), config_file=str(cookiecutter_config))
    choices = ", ".join(f'"{choice}"' for choice in DEFAULTS[key])
    assert f'ERROR: {key} "GPL" is not one of the options; choose one of {choices}' in capfd.readouterr().err
    assert_nothing_written(output)


def test_every_problem_is_reported_at_once(tmp_path, cookiecutter_config, template, capfd):
    with pytest.raises(FailedHookException):
        bake_into(tmp_path / "out", cookiecutter_config, template, package="import", github_user="-x", branch="a b")
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert [line.split()[1] for line in errors] == ["package", "github_user", "branch"]


def test_project_with_a_slash_is_refused_and_writes_no_file(tmp_path, cookiecutter_config, template, capfd):
    """cookiecutter makes the folders of the project path before the hook runs and removes only the
    last one, so an empty "courses/" may remain; no file is written."""
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake_into(output, cookiecutter_config, template, project="courses/dl", package="dl", github_repo="dl")
    assert (
        'ERROR: project "courses/dl" may contain only lowercase ASCII letters, digits and dashes; use e.g. "courses-dl"'
        in capfd.readouterr().err
    )
    assert not (output / "courses" / "dl").exists()
    assert not [path for path in output.rglob("*") if not path.is_dir()]


def test_without_git_only_plain_branch_names_pass(tmp_path, cookiecutter_config, template, capfd, monkeypatch):
    """git decides what a branch name may be; with no git to ask, only names every git accepts pass."""
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake_into(output, cookiecutter_config, template, branch='spring"26')
    assert 'ERROR: branch "spring"26" is not a valid git branch name' in capfd.readouterr().err
    assert_nothing_written(output)
    course = bake_into(output, cookiecutter_config, template, branch="course/spring-26", init_git="no")
    assert 'branch = "course/spring-26"' in (course / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["", "   "], ids=["empty", "blank"])
def test_an_empty_title_typed_in_the_current_folder_gets_the_one_line_error(
    tmp_path, cookiecutter_config, template, name
):
    """The real command in the folder a teacher is in: an empty title once made the project folder name
    empty, and cookiecutter stopped with '"." directory already exists' before the hook could speak."""
    here = tmp_path / "teacher"
    here.mkdir()
    done = subprocess.run(
        [str(BIN / "cookiecutter"), "--no-input", "--config-file", str(cookiecutter_config), str(template)]
        + [f"course_name={name}"],
        cwd=here,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert errors[0] == 'ERROR: course_name is empty; type the course title, e.g. "Deep Learning Course"', done.stderr
    assert "already exists" not in done.stderr
    assert list(here.iterdir()) == []
