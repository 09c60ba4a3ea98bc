"""bootstrap.setup(): the status line, Drive duplicates, and edits to src/ that take effect."""

import sys
import types

import pytest

from conftest import ROOT
from {{ cookiecutter.package }} import bootstrap, reloading


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


def ipython_shell(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    return InteractiveShell.instance(config=config)


def follows_edits(shell) -> str | None:
    if shell.find_line_magic("autoreload") is not None:
        return "autoreload"
    if any(getattr(callback, "course_reloader", False) for callback in shell.events.callbacks["pre_run_cell"]):
        return "course reloader"
    return None


@pytest.mark.parametrize("setting, followed", [(None, True), ("1", True), ("0", False)])
def test_edits_are_followed_unless_a_batch_run_turns_it_off(setting, followed, tmp_path, monkeypatch):
    if setting is None:
        monkeypatch.delenv("COURSE_AUTORELOAD", raising=False)
    else:
        monkeypatch.setenv("COURSE_AUTORELOAD", setting)
    shell = ipython_shell(tmp_path, monkeypatch)
    assert bootstrap._follow_edits(shell) == []
    assert (follows_edits(shell) is not None) is followed


class NoImp:
    """What loading autoreload meets in Colab: IPython 7.34's autoreload imports `imp`, gone in Python 3.12."""

    def find_spec(self, name, path=None, target=None):
        if name in ("imp", "IPython.extensions.autoreload"):
            raise ModuleNotFoundError("No module named 'imp'", name="imp")


def test_where_autoreload_cannot_load_the_course_reloads_its_own_modules(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_AUTORELOAD", raising=False)
    monkeypatch.delitem(sys.modules, "IPython.extensions.autoreload", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoImp(), *sys.meta_path])
    shell = ipython_shell(tmp_path, monkeypatch)
    bootstrap._follow_edits(shell)
    assert follows_edits(shell) == "course reloader"
    bootstrap._follow_edits(shell)  # a second setup run replaces the hook instead of adding one
    hooks = [cb for cb in shell.events.callbacks["pre_run_cell"] if getattr(cb, "course_reloader", False)]
    assert len(hooks) == 1


def test_the_modules_that_use_a_changed_module_are_reloaded_with_it():
    changed = types.ModuleType("course_demo.errors")
    user = types.ModuleType("course_demo.data")
    user.CourseError = type("CourseError", (Exception,), {"__module__": "course_demo.errors"})
    bystander = types.ModuleType("course_demo.drive")
    bystander.value = 3
    modules = {"course_demo.errors": changed, "course_demo.data": user, "course_demo.drive": bystander}
    assert reloading._with_users(modules, {"course_demo.errors"}) == {"course_demo.errors", "course_demo.data"}
