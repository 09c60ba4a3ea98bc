"""A lesson's parameters, read from its cell tagged ``parameters`` without running any of it.

The cell sets each parameter's default, and may declare two dicts of plain literals::

    epochs = 5
    device = "auto"
    SMOKE = {"epochs": 1}                                   # what smoke runs use instead
    ALLOWED = {"epochs": ">= 1", "device": ["auto", "cpu", "cuda"]}

A run's values are the defaults, then (in a smoke run) those in ``SMOKE``, then the ones given
with ``-p``: a value given always wins. A lesson never assigns to a parameter itself
(`course check` says where one does), so the values a run records are the values its kernel used.

``ALLOWED`` gives, per parameter, a list of the values it may take, or comparisons with numbers
joined by commas (``">= 1"``, ``"> 0, <= 1"``). Every value must also fit its default's type
(an int where the default is an int, ...). Values are checked before a kernel starts.
"""

from __future__ import annotations

import ast
import difflib
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CourseError

SMOKE = "SMOKE"
ALLOWED = "ALLOWED"
_COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_COMPARISON = re.compile(r"\s*(>=|<=|>|<)\s*([-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?)\s*")
# What people type for a choice that lessons name otherwise; difflib cannot know these.
SYNONYMS = {"gpu": "cuda", "nvidia": "cuda", "cuda:0": "cuda"}
_JSON_TYPES = (type(None), bool, int, float, str, list, dict)
NOT_CODE = (
    "the cell tagged 'parameters' is not a code cell, so it sets nothing (papermill still injects after it): "
    "make it a code cell, or move the tag to the code cell that sets the parameters"
)


@dataclass(frozen=True)
class Parameters:
    """Defaults, smoke values and allowed values of one lesson."""

    defaults: dict = field(default_factory=dict)
    smoke: dict = field(default_factory=dict)
    allowed: dict = field(default_factory=dict)

    def check(self, name: str, value):
        """``value`` if it fits ``name``'s default and ``ALLOWED``; one ``CourseError`` saying why not."""
        default = self.defaults[name]
        check_type(name, value, default)
        rule = self.allowed.get(name)
        if rule is not None and not (value is None and default is None):  # None keeps what None means there
            check_rule(name, value, rule)
        return value

    def run_values(self, given: dict, *, smoke: bool) -> dict:
        """What papermill injects: the ``smoke`` flag (if the lesson has one), ``SMOKE``'s values in a
        smoke run, then ``given``, which wins."""
        values = {"smoke": smoke} if "smoke" in self.defaults else {}
        if smoke:
            values.update(self.smoke)
        values.update(given)
        return values


def parse_cell(source: str) -> Parameters:
    """The parameters of a ``parameters`` cell's source.

    Literal defaults are Python values; anything else (``Path('.')``) is kept as its source text.
    ``SyntaxError`` when the cell is not Python; ``CourseError`` when ``SMOKE`` or ``ALLOWED`` is wrong.
    """
    defaults, declared = {}, {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            if target.id in (SMOKE, ALLOWED):
                raise CourseError(f"{target.id} must be a dict of plain values (no names or calls)") from None
            value = ast.get_source_segment(source, node.value)
        (declared if target.id in (SMOKE, ALLOWED) else defaults)[target.id] = value
    parameters = Parameters(defaults, declared.get(SMOKE, {}), declared.get(ALLOWED, {}))
    _check_declarations(parameters)
    return parameters


def of_lesson(notebook: Path) -> Parameters:
    """The parameters of a lesson file (none if it has no ``parameters`` cell); ``CourseError`` naming the file."""
    from .notebooks import cell_source, parameters_cell, read_notebook

    cell = parameters_cell(read_notebook(notebook))
    if cell is None:
        return Parameters()
    if cell.get("cell_type") != "code":
        raise CourseError(f"{notebook}: {NOT_CODE}")
    try:
        return parse_cell(cell_source(cell))
    except SyntaxError as error:
        raise CourseError(
            f"{notebook}: the parameters cell is not valid Python ({error.msg}, line {error.lineno}): fix it"
        ) from None
    except CourseError as error:
        raise CourseError(f"{notebook}: in the parameters cell, {error}") from None


def _check_declarations(parameters: Parameters) -> None:
    """SMOKE and ALLOWED name only parameters, their rules read, and every default and smoke value obeys them."""
    for label, declared in ((SMOKE, parameters.smoke), (ALLOWED, parameters.allowed)):
        if not isinstance(declared, dict):
            raise CourseError(f"{label} must be a dict, e.g. {label} = {{'epochs': 1}}")
        unknown = [name for name in declared if name not in parameters.defaults]
        if unknown:
            raise CourseError(f"{label} names {', '.join(map(repr, unknown))}, which the cell does not set")
    for name, rule in parameters.allowed.items():
        _comparisons(name, rule) if isinstance(rule, str) else _choices(name, rule)
    for name, default in parameters.defaults.items():
        if default is not None and name in parameters.allowed:
            _obeyed(parameters, name, default, f"the default {name} = {default!r}")
    for name, value in parameters.smoke.items():
        _obeyed(parameters, name, value, f"{SMOKE}[{name!r}] = {value!r}")


def _obeyed(parameters: Parameters, name: str, value, what: str) -> None:
    try:
        parameters.check(name, value)
    except CourseError as error:
        raise CourseError(f"{what} breaks the lesson's own rules: {error}") from None


# -- rules ----------------------------------------------------------------------------------------
def check_rule(name: str, value, rule) -> None:
    if isinstance(rule, str):
        for symbol, bound in _comparisons(name, rule):
            if not _is_number(value) or not _COMPARISONS[symbol](value, bound):
                raise CourseError(f"{name}={value!r} is not allowed: {name} must be {_describe(rule)}")
        return
    choices = _choices(name, rule)
    if not any(value == choice and type(value) is type(choice) for choice in choices):
        listed = ", ".join(repr(choice) for choice in choices)
        hint = did_you_mean(value, choices)
        raise CourseError(
            f"{name}={value!r} is not allowed: {name} must be one of {listed}"
            + (f" (did you mean {hint!r}?)" if hint is not None else "")
        )


def did_you_mean(value, choices: list):
    """The choice someone typing ``value`` most likely meant, or None."""
    if not isinstance(value, str):
        return None
    texts = [choice for choice in choices if isinstance(choice, str)]
    synonym = SYNONYMS.get(value.lower())
    if synonym in texts:
        return synonym
    folded = {choice.lower(): choice for choice in texts}
    if value.lower() in folded:
        return folded[value.lower()]
    close = difflib.get_close_matches(value.lower(), list(folded), n=1, cutoff=0.7)
    return folded[close[0]] if close else None


def _comparisons(name: str, rule: str) -> list[tuple[str, float]]:
    parts = rule.split(",")
    matches = [_COMPARISON.fullmatch(part) for part in parts]
    if not all(matches):
        raise CourseError(
            f"{ALLOWED}[{name!r}] = {rule!r}: write comparisons with numbers, e.g. '>= 1' or '> 0, <= 1', "
            "or a list of the values allowed"
        )
    return [(match[1], float(match[2].replace("_", ""))) for match in matches]


def _choices(name: str, rule) -> list:
    if not isinstance(rule, (list, tuple)) or not rule:
        raise CourseError(f"{ALLOWED}[{name!r}]: give a list of the values allowed, or comparisons such as '>= 1'")
    return list(rule)


def _describe(rule: str) -> str:
    return " and ".join(f"{symbol} {bound:g}" for symbol, bound in _comparisons("", rule))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- types ----------------------------------------------------------------------------------------
def check_type(name: str, value, default):
    """``value`` if it fits the default's type and can be stored as JSON; ``CourseError`` otherwise."""
    if not _json_safe(value):
        raise CourseError(f"{name}={value!r}: use None, True/False, numbers, strings, or lists/dicts of them")
    if not _fits(value, default):
        raise CourseError(
            f"{name}={value!r} does not fit its default {default!r} ({type(default).__name__}): "
            f"write e.g. -p {name} {example(default)}"
        )
    return value


def example(default) -> str:
    """A ``-p`` value of the default's kind, for messages."""
    if isinstance(default, bool):
        return "True"
    if isinstance(default, (int, float)):
        return repr(default)
    if isinstance(default, (list, dict)):
        return f'"{default!r}"'
    return "VALUE"


def _fits(value, default) -> bool:
    if value is None or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return _is_number(value)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        return isinstance(value, list)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True  # a default that is not a plain literal: nothing to compare with


def _json_safe(value) -> bool:
    if isinstance(value, list):
        return all(_json_safe(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_safe(item) for key, item in value.items())
    return isinstance(value, _JSON_TYPES)
