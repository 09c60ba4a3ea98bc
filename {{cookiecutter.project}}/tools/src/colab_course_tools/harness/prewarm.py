"""Which of a lesson's imports may be loaded before the lesson starts, without changing what it does.

A pre-warmed kernel imports the lesson's modules while another lesson runs. That must be
invisible: an import that runs early sees a different environment than the lesson would give it.
So only the top-level imports that come before anything that can change what an import does are
taken: code touching ``os.environ``, ``sys.path``, ``sys.modules``, the working directory or the
import machinery, a shell command or magic (``!pip install`` changes what is installed), a cell
magic, or code that cannot be parsed. Cells tagged ``skip-execution`` never run, so their imports
are never taken. The course's own setup cell is known: it only puts ``src/`` on the path and
imports the course package, as the harness does already.
"""

from __future__ import annotations

import ast

from .. import notebooks
from ..cell_code import parse_cell, uses_ipython

_CHANGING_ATTRIBUTES = {
    "environ", "putenv", "unsetenv", "chdir", "fchdir", "system", "meta_path", "path_hooks",
    "path_importer_cache", "import_module", "reload", "invalidate_caches", "addsitedir",
}  # fmt: skip
_CHANGING_NAMES = {"environ", "putenv", "chdir", "__import__", "exec", "eval", "subprocess"}


def imports_to_prewarm(notebook: dict) -> list[str]:
    """Module names, in order, that the lesson imports before it could change the import environment."""
    names: list[str] = []
    for cell in notebooks.cells(notebook):
        if cell.get("cell_type") != "code" or notebooks.has_tag(cell, notebooks.SKIP_TAG):
            continue
        setup = notebooks.has_tag(cell, notebooks.SETUP_TAG)
        for statement in _statements(notebooks.cell_source(cell)):
            if statement is None and not setup:
                return names
            if isinstance(statement, ast.Import):
                names.extend(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom):
                if statement.level == 0 and statement.module != "__future__":
                    names.append(statement.module)
            elif not setup and _changes_imports(statement):
                return names
    return list(dict.fromkeys(names))


def _statements(source: str) -> list[ast.stmt | None]:
    """The cell's top-level statements as IPython runs them; ``None`` where a magic or shell command
    stands, or for the whole cell when it cannot be parsed."""
    tree = parse_cell(source)
    if tree is None:
        return [None]
    return [None if uses_ipython(statement) else statement for statement in tree.body]


def _changes_imports(statement: ast.stmt) -> bool:
    for node in ast.walk(statement):
        if isinstance(node, ast.Attribute):
            if node.attr in _CHANGING_ATTRIBUTES:
                return True
            if isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr in ("path", "modules"):
                return True
        elif isinstance(node, ast.Name) and node.id in _CHANGING_NAMES:
            return True
    return False
