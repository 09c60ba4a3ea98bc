"""How a student's run compares with the course's: one line when a lesson logs its final headline metric.

The course's tools record, per lesson, mode (smoke or full) and device kind (cpu or cuda), the band each final metric
fell in over several honest runs (``lesson-bands.json`` at the course's root, written by `course bands record`). A
student's run is told whether its headline metric is within it, or lower or higher and what to check. It never
fails the notebook: a band that cannot be read, or none for this run, prints nothing.

Which lesson is running: ``COURSE_LESSON`` (set by the course's tools), else the notebook Jupyter names
(``JPY_SESSION_NAME``), else (Colab names none) the one lesson whose band's parameters are all defined here.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

BANDS_FILE = "lesson-bands.json"
UNBANDED_PARAMETERS = ("seed", "smoke")
WHAT_TO_CHECK = (
    "check the runtime's GPU (Runtime > Change runtime type), the parameters you changed and your exercise code"
)


def comparison(name: str, value, root: Path) -> str | None:
    """The line for a final ``name`` = ``value`` of the lesson running here, or None if there is nothing to say."""
    try:
        data = json.loads((root / BANDS_FILE).read_text(encoding="utf-8"))["bands"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    namespace = vars(sys.modules.get("__main__")) if "__main__" in sys.modules else {}
    key = f"{'smoke' if namespace.get('smoke') else 'full'}-{_device()}"
    lesson = _lesson(data, key, namespace)
    band = (data.get(lesson) or {}).get(key) if lesson else None
    if not isinstance(band, dict) or name not in (band.get("metrics") or {}):
        return None
    limits = band["metrics"][name]
    span = f"{_shown(limits['low'])} to {_shown(limits['high'])}"
    expected = f"expected {span}"
    changed = [
        f"{parameter} {namespace[parameter]!r} (the course's: {recorded!r})"
        for parameter, recorded in (band.get("parameters") or {}).items()
        if parameter in namespace and namespace[parameter] != recorded
    ]
    if changed:
        differing = ", ".join(changed)
        return (
            f"{name} {_shown(value)}: your parameters differ from the course's runs ({differing}), which scored {span}"
        )
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{name} is {value}: a run that learns gives a number; {WHAT_TO_CHECK}"
    if value < limits["low"]:
        return f"{name} {_shown(value)} is lower than the course's runs ({expected}, {key}): {WHAT_TO_CHECK}"
    if value > limits["high"]:
        return f"{name} {_shown(value)} is higher than the course's runs ({expected}, {key}): {WHAT_TO_CHECK}"
    return f"within the course's runs: {name} {_shown(value)}, {expected} ({key})"


def _device() -> str:
    """``cuda`` when torch is in use here and sees a GPU, else ``cpu`` (torch is never imported for this)."""
    torch = sys.modules.get("torch")
    try:
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    except Exception:  # a broken CUDA setup: the lesson itself runs on the CPU then
        return "cpu"


def _lesson(bands: dict, key: str, namespace: dict) -> str | None:
    named = os.environ.get("COURSE_LESSON") or Path(os.environ.get("JPY_SESSION_NAME") or "").stem
    if named:
        return named
    fitting = [
        lesson
        for lesson, by_key in bands.items()
        if isinstance(by_key, dict)
        and isinstance(by_key.get(key), dict)
        and by_key[key].get("parameters")
        and all(name in namespace for name in by_key[key]["parameters"])
    ]
    return fitting[0] if len(fitting) == 1 else None


def _shown(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
