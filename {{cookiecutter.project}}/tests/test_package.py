"""The package's layout stays as docs/package.md describes it: every module mapped, no import cycles."""

import ast
import re
from pathlib import Path

from conftest import PACKAGE, ROOT

PACKAGE_DIR = ROOT / "src" / PACKAGE
MAP = ROOT / "docs" / "package.md"


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module in the package."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict) -> set[str]:
    """Modules of the package that ``name`` imports, wherever in the file the import is."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    # importing a parent package is how Python reaches any submodule: not an edge between concerns
    return {target for target in found if target in known and target != name and not name.startswith(target + ".")}


def only_docstring(path: Path) -> bool:
    """A subpackage's ``__init__.py`` that just describes it (the map's section says the same)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


def test_every_module_is_on_the_map_and_the_map_names_only_modules():
    mapped = set(re.findall(r"^\| `([\w/]+\.py)`(?:, `([\w/]+\.py)`)?", MAP.read_text(encoding="utf-8"), re.M))
    mapped = {name for pair in mapped for name in pair if name}
    files = {path.relative_to(PACKAGE_DIR).as_posix() for path in modules().values() if not only_docstring(path)}
    assert files - mapped == set(), "modules missing from docs/package.md"
    assert mapped - files == set(), "docs/package.md names modules that do not exist"


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every import cycle found by a depth-first walk, as ``a -> b -> a``."""
    found, done = [], set()

    def visit(name, path):
        for target in sorted(graph[name]):
            if target in path:
                found.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in done:
                visit(target, path + [target])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    return found


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph(modules())) == []


def test_the_cycle_check_finds_imports_inside_functions(tmp_path):
    """The check above can fail: two modules importing each other, one of them lazily, are a cycle."""
    package = tmp_path / "demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .b import g\n")
    (package / "b.py").write_text("from . import a\n")
    known = {"demo": package / "__init__.py", "demo.a": package / "a.py", "demo.b": package / "b.py"}
    assert cycles(import_graph(known)) == ["demo.a -> demo.b -> demo.a"]
