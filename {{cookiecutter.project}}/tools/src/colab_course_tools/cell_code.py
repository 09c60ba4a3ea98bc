"""A code cell's Python as IPython runs it: the one reader of cells with magics and shell lines.

IPython turns ``%time epochs = 3`` into ``get_ipython().run_line_magic('time', 'epochs = 3')`` and
``files = !ls`` into ``files = get_ipython().getoutput('ls')`` before it runs a cell; its
``TransformerManager`` does that here too (the same in Colab's IPython 7.34 and today's). Plain
Python needs no transforming, so IPython (about 0.2 s to import) is loaded only for a cell that
does not parse as it is. Code that a magic runs (``%time``, ``%%capture``, ...) is opened, so an
assignment inside it counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

IPYTHON_CALLS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}
LINE_MAGICS_RUNNING_CODE = {"time", "prun"}  # the whole argument is Python
CELL_MAGICS_RUNNING_CODE = {"time", "timeit", "capture", "prun"}  # the cell's body is Python


def parse_cell(source: str) -> ast.Module | None:
    """The cell as IPython would run it, parsed; None when it is not Python even then."""
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def ipython_call(node: ast.AST) -> tuple[str, list[ast.expr]] | None:
    """``("run_line_magic", args)`` for ``get_ipython().run_line_magic(...)`` and its kin; None for other nodes."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in IPYTHON_CALLS
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Name)
        and node.func.value.func.id == "get_ipython"
    ):
        return node.func.attr, node.args
    return None


def uses_ipython(statement: ast.stmt) -> bool:
    """Whether a statement runs a magic or a shell command."""
    return any(ipython_call(node) is not None for node in ast.walk(statement))


def code_run_by(node: ast.AST) -> ast.Module | None:
    """The Python a ``%time``-like magic call runs, parsed; None for other nodes or code that does not parse."""
    call = ipython_call(node)
    if call is None:
        return None
    kind, args = call
    texts = [arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None for arg in args]
    if kind == "run_line_magic" and len(texts) == 2 and texts[0] in LINE_MAGICS_RUNNING_CODE:
        code = texts[1]
    elif kind == "run_cell_magic" and len(texts) == 3 and texts[0] in CELL_MAGICS_RUNNING_CODE:
        code = texts[2]
    else:
        return None
    return parse_cell(code) if code is not None else None


def top_level_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node the cell runs at its top level (inside ``if``/``for``/``with``/``try`` too, and inside the
    code a magic runs), but not inside functions, classes, lambdas or comprehensions, which bind their own names."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, _OWN_SCOPES):
            continue
        yield node
        inner = code_run_by(node)
        if inner is not None:
            pending.extend(inner.body)
        pending.extend(ast.iter_child_nodes(node))


_OWN_SCOPES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)  # fmt: skip


def assigned_names(source: str) -> list[str]:
    """Names a cell binds at its top level, in order (see ``top_level_nodes``); none if it is not Python."""
    tree = parse_cell(source)
    if tree is None:
        return []
    return [node.id for node in top_level_nodes(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)]
