"""The course's package is the course's: what lessons import, and the teacher's own modules beside them.

It never needs the tools (students do not install them), and its runtime dependencies are exactly what the
lessons and the package import, so the setup cell installs nothing else in Colab. A module a teacher adds
needs no entry anywhere: nothing here lists the package's modules.
"""

import ast
import importlib.metadata
import json
import tomllib

from conftest import PACKAGE, ROOT

PACKAGE_DIR = ROOT / "src" / PACKAGE
TOOLS = "colab_course_tools"


def imported_tops(source: str) -> set[str]:
    """The top-level modules a piece of Python imports, wherever the import is."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
    return found


def package_imports() -> set[str]:
    return set().union(*(imported_tops(path.read_text(encoding="utf-8")) for path in PACKAGE_DIR.rglob("*.py")))


def lesson_imports() -> set[str]:
    found = set()
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and not source.lstrip().startswith(("%", "!")):
                found |= imported_tops(source)
    return found


def requirement_name(line: str) -> str:
    for stop in "<>=!~;[ ":
        line = line.split(stop)[0]
    return line.strip().lower().replace("_", "-")


def test_the_course_package_never_imports_the_tools_or_the_harness():
    reaching = package_imports() & {TOOLS, "papermill", "nbformat", "nbclient", "jupyter_client"}
    assert reaching == set(), f"src/{PACKAGE} imports {sorted(reaching)}: students would need the tools"


def test_runtime_dependencies_are_what_lessons_and_the_package_import():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {requirement_name(line) for line in project["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    needed = {
        name.lower().replace("_", "-")
        for module in package_imports() | lesson_imports()
        for name in distributions.get(module, [])
    }
    # tomli stands in for tomllib before Python 3.11; torchvision is declared beside torch as the pair whose
    # floors CI tests (fastai.vision imports it); fastai brings numpy, matplotlib and PIL itself
    unused = declared - needed - {"tomli", "torchvision"}
    assert unused == set(), f"dependencies no lesson or module of src/{PACKAGE} imports: {sorted(unused)}"
    assert TOOLS.replace("_", "-") not in declared


def test_a_lesson_imports_the_course_package_without_torch_or_the_tools():
    """What the setup cell pays on every run: no torch, fastai or tools module loaded by ``import <package>``."""
    import subprocess
    import sys

    code = (
        f"import sys, {PACKAGE}; "
        f"print(sorted(m for m in sys.modules if m.partition('.')[0] in ('torch', 'fastai', '{TOOLS}', 'papermill')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "src", capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
