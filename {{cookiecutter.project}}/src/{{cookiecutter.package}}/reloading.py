"""Edits to the course's own code take effect in the next cell, also where IPython's autoreload cannot.

Colab ships IPython 7.34, whose autoreload imports ``imp``, which Python 3.12 removed: there
``%autoreload`` does not load at all. And an update pulled by the setup cell changes files in
the middle of a cell, after autoreload's check. So the course watches its own modules: it
remembers each one's file time when first seen, and before every cell (IPython's
``pre_run_cell`` event) and right after an update it reloads the modules whose files changed,
then the loaded modules that use them, dependencies first. A check that finds nothing costs
one ``stat`` per loaded course module.
"""

from __future__ import annotations

import importlib
import os
import sys
import types

# File times of the modules as loaded; kept when this module itself is reloaded.
_seen: dict[str, float] = globals().get("_seen", {})


def _package() -> str:
    return __name__.rpartition(".")[0]


_listed: list = globals().get("_listed", [-1, {}])  # [len(sys.modules) when listed, the course's modules]


def _course_modules() -> dict[str, types.ModuleType]:
    """The loaded course modules; sys.modules (thousands with torch) is walked again only when it changed size."""
    if _listed[0] != len(sys.modules):
        prefix = _package()
        _listed[:] = [
            len(sys.modules),
            {
                name: module
                for name, module in list(sys.modules.items())
                if module is not None
                and (name == prefix or name.startswith(prefix + "."))
                and getattr(module, "__file__", None)
            },
        ]
    return _listed[1]


def _file_time(module: types.ModuleType) -> float | None:
    try:
        return os.stat(module.__file__).st_mtime
    except OSError:
        return None


def changed_modules() -> list[str]:
    """Names of loaded course modules whose file changed since they were seen (new ones are remembered)."""
    changed = []
    for name, module in _course_modules().items():
        current = _file_time(module)
        if name not in _seen:
            _seen[name] = current
        elif current != _seen[name]:
            changed.append(name)
    return changed


def reload_changed() -> list[str]:
    """Reload changed course modules and the loaded ones that use them; returns the names reloaded."""
    changed = changed_modules()
    if not changed:
        return []
    modules = _course_modules()
    chosen = _with_users(modules, set(changed))
    order = [name for name in reversed(list(modules)) if name in chosen]  # imported ones come later: first here
    for name in order:
        module = modules[name]
        _seen[name] = _file_time(module)
        try:
            importlib.reload(module)
        except Exception as error:  # a half-edited file: keep the old module, say which line is wrong
            print(f"Could not reload {name} ({type(error).__name__}: {error}); the previous version stays in use.")
    return order


def _with_users(modules: dict[str, types.ModuleType], names: set[str]) -> set[str]:
    """``names`` plus every loaded module holding one of them, or something defined in one, as a global."""
    names = set(names)
    grew = True
    while grew:
        grew = False
        for name, module in modules.items():
            if name not in names and any(_defined_in(value, names) for value in vars(module).values()):
                names.add(name)
                grew = True
    return names


def _defined_in(value, names: set[str]) -> bool:
    if isinstance(value, types.ModuleType):
        return value.__name__ in names
    try:
        return getattr(value, "__module__", None) in names
    except Exception:  # objects whose attribute access itself fails are no course code
        return False


def watch(shell, after_reload=None) -> None:
    """Reload changed course modules before every cell of ``shell``; a second call replaces the first.

    Modules a cell imports are remembered right after it, so an edit before the next cell counts.
    ``after_reload()`` runs when something was reloaded, e.g. to register the new ``CourseError``.
    """
    changed_modules()  # remember what is loaded now
    for event in ("pre_run_cell", "post_run_cell"):
        for callback in list(shell.events.callbacks[event]):
            if getattr(callback, "course_reloader", False):
                shell.events.unregister(event, callback)

    def before_cell(*_):  # IPython 7 and later pass the cell's info (or result); nothing here needs it
        if reload_changed() and after_reload is not None:
            after_reload()

    def after_cell(*_):
        changed_modules()

    for event, callback in (("pre_run_cell", before_cell), ("post_run_cell", after_cell)):
        callback.course_reloader = True
        shell.events.register(event, callback)
