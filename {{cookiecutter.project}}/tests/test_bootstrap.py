"""bootstrap.setup() pieces: which requirements a runtime lacks, and installing only those."""

import subprocess

import pytest

from conftest import ROOT
from {{ cookiecutter.package }} import bootstrap
from {{ cookiecutter.package }}.errors import CourseError


def course_with(tmp_path, dependencies):
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\ndependencies = [" + ", ".join(repr(d) for d in dependencies) + "]\n"
    )
    return tmp_path


def test_missing_requirements_lists_absent_and_too_old_but_never_torch(tmp_path):
    root = course_with(
        tmp_path,
        [
            "packaging>=1",  # present and new enough
            "pytest>=999",  # present, too old
            "torch>=999",
            "torchvision>=999",
            "ipykernel>=999",  # look too old, but the runtime's own builds stay
            "surely-not-installed-course-dependency>=1",
            "packaging>=999; python_version < '3'",  # not for this Python
        ],
    )
    assert bootstrap.missing_requirements(root) == ["pytest>=999", "surely-not-installed-course-dependency>=1"]


def test_nothing_missing_means_no_pip_call(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    assert bootstrap.install_missing(ROOT) == []  # this environment has every course dependency
    assert calls == []


def test_failed_install_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # a real pip run that cannot find the package, offline
    root = course_with(tmp_path, ["surely-not-installed-course-dependency>=1"])
    with pytest.raises(
        CourseError, match="pip could not install surely-not-installed-course-dependency.*rerun the setup cell"
    ):
        bootstrap.install_missing(root)
    assert "Installing what this runtime lacks: surely-not-installed-course-dependency>=1" in capsys.readouterr().out


def test_unreadable_pyproject_is_one_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(CourseError, match="pyproject.toml.*restore it"):
        bootstrap.missing_requirements(tmp_path)


def test_setup_outside_a_notebook_prints_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))  # setup() sets it; the test's end restores it
    bootstrap.setup(ROOT, install=False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Course ready · ")
    assert f"repo {ROOT}" in lines[0]


def test_drive_duplicates_are_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    (tmp_path / "pyproject.toml").write_text("[tool.course]\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "utils.py").write_text("")
    (tmp_path / "src" / "utils (1).py").write_text("")
    bootstrap.setup(tmp_path, install=False)
    out = capsys.readouterr().out
    assert "Warning:" in out and "utils (1).py" in out


@pytest.mark.parametrize("setting, loaded", [(None, True), ("1", True), ("0", False)])
def test_autoreload_is_on_unless_a_batch_run_turns_it_off(setting, loaded, tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    if setting is None:
        monkeypatch.delenv("COURSE_AUTORELOAD", raising=False)
    else:
        monkeypatch.setenv("COURSE_AUTORELOAD", setting)
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)

    assert bootstrap._enable_autoreload(shell) == []
    assert (shell.find_line_magic("autoreload") is not None) is loaded
