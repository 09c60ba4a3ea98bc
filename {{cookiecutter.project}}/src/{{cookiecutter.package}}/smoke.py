"""Smoke runs, however they are started: a lesson's ``SMOKE`` values take effect when ``smoke`` is True.

`course test --smoke` and `course run` inject a smoke run's every value (``SMOKE``'s, then ``-p``'s). papermill
alone (``papermill lesson.ipynb out.ipynb -p smoke True``, as a CI outside the course's tools runs it) injects only
what ``-p`` gives, in a cell after the parameters cell; so a lesson calls ``apply(globals())`` after that cell, and
each ``SMOKE`` value that nothing gave takes effect (a value given with ``-p`` wins). A student who sets
``smoke = True`` by hand gets the same.
"""

from __future__ import annotations

import ast

INJECTED_HEADER = "# Parameters"  # the first line of the cell papermill injects after the parameters cell


def apply(namespace: dict) -> list[str]:
    """In a smoke run, set each ``SMOKE`` value that the injected cell did not give; returns the names set."""
    if not namespace.get("smoke"):
        return []
    given = _injected_names(namespace.get("In") or [])
    smoke_values = namespace.get("SMOKE") or {}
    applied = [name for name in smoke_values if name not in given]
    for name in applied:
        namespace[name] = smoke_values[name]
    return applied


def _injected_names(history: list[str]) -> set[str]:
    """The names the newest injected cell assigns (IPython keeps every cell's source in ``In``)."""
    for source in reversed(history):
        if source.splitlines()[:1] == [INJECTED_HEADER]:
            try:
                body = ast.parse(source).body
            except SyntaxError:
                return set()
            return {
                t.id for node in body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
            }
    return set()
