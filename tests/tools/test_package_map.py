"""The tools' layout stays as tools/docs/package.md describes it: every module mapped, no import cycles between
modules or subpackages, and the rules the page states about JSON files, time limits, tags and -p values."""

import ast
import re
from pathlib import Path

from course_under_test import ROOT, TOOLS

PACKAGE = TOOLS
PACKAGE_DIR = ROOT / "tools" / "src" / TOOLS
MAP = ROOT / "tools" / "docs" / "package.md"


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
    assert files - mapped == set(), "modules missing from tools/docs/package.md"
    assert mapped - files == set(), "tools/docs/package.md names modules that do not exist"


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


def folder_of(name: str) -> str | None:
    """The subpackage a module belongs to (``harness``), or None for a module at the top."""
    parts = name.split(".")[1:]
    return parts[0] if len(parts) > 1 or (parts and (PACKAGE_DIR / parts[0]).is_dir()) else None


def folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Subpackage -> the other subpackages its modules import."""
    folders: dict[str, set[str]] = {}
    for name, targets in graph.items():
        folder = folder_of(name)
        if folder is None:
            continue
        folders.setdefault(folder, set())
        folders[folder] |= {folder_of(t) for t in targets if folder_of(t) not in (None, folder)}
    return folders


def test_no_subpackage_imports_one_that_imports_it_back():
    assert cycles(folder_graph(import_graph(modules()))) == []


def test_the_folder_check_can_fail():
    """Two subpackages whose modules import each other (though no module imports one that imports it) are a cycle."""
    graph = {"demo.a.x": {"demo.b.y"}, "demo.b.y": {"demo.a.z"}, "demo.a.z": set()}
    assert cycles(graph) == []
    assert cycles(folder_graph(graph)) == ["a -> b -> a"]


def test_modules_at_the_top_import_no_subpackage_except_the_command_table():
    graph = import_graph(modules())
    top = {name: targets for name, targets in graph.items() if folder_of(name) is None}
    reaching = {
        name: sorted(t for t in targets if folder_of(t) is not None)
        for name, targets in top.items()
        if name != f"{PACKAGE}.cli"
    }
    assert {name: found for name, found in reaching.items() if found} == {}


def calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            yield node


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def test_every_json_file_is_written_by_atomic_write_json():
    """docs/package.md: no module but atomic.py writes JSON itself (json.dump, or write_text(json.dumps(...)))."""
    found = []
    for name, path in modules().items():
        if path.name == "atomic.py":
            continue
        for call in calls(path):
            writes = dotted(call.func).endswith((".write_text", ".write", "write_text")) and call.args
            content = call.args[-1] if writes else None
            content = content.left if isinstance(content, ast.BinOp) else content  # json.dumps(...) + "\n"
            dumped = isinstance(content, ast.Call) and dotted(content.func) == "json.dumps"
            if dotted(call.func) == "json.dump" or dumped:
                found.append(f"{name}:{call.lineno}")
    assert found == []


def test_time_limits_are_decided_in_harness_limits():
    """docs/package.md: every time limit of the harness and of runs is a constant of harness/limits.py."""
    found = []
    for name, path in modules().items():
        if name.endswith("harness.limits") or folder_of(name) not in ("harness", "experiments"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            found += [
                f"{name}.{t.id}"
                for t in targets
                if isinstance(t, ast.Name) and t.id.endswith(("TIMEOUT_S", "GRACE_S", "BACKSTOP_S"))
            ]
    assert found == []


def test_tags_are_named_once_in_notebooks_py():
    from colab_course_tools import notebooks

    tags = {value for key, value in vars(notebooks).items() if key.endswith("_TAG")}
    assert {"skip-execution", "raises-exception", "injected-parameters", "papermill-error-cell-tag"} <= tags
    found = []
    for name, path in modules().items():
        if path.name == "notebooks.py" and folder_of(name) is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in tags - {"setup", "parameters"}:
                found.append(f"{name}:{node.lineno} {node.value!r}")
    assert found == []


def test_every_p_value_is_read_by_overrides_py():
    """docs/package.md: a command that takes -p hands it to overrides.py (no parser of its own)."""
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if "args.param" in text:
            assert "overrides import" in text, f"{name} reads -p values without overrides.py"
        if name.rpartition(".")[2] != "overrides":
            assert "def parse_value" not in text
