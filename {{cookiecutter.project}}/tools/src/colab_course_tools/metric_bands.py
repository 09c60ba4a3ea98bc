"""Metric bands: the range each lesson's final metrics fall in over honest runs, kept in ``lesson-bands.json``.

``course bands record`` runs a lesson K times with different seeds and writes, per lesson, mode (smoke or full) and
device kind (cpu or cuda), the band of each final metric with how it was recorded::

    {"format": 1, "rule": "...", "bands": {"01_first_model": {"smoke-cpu": {
        "headline": "accuracy",
        "metrics": {"accuracy": {"low": 0.81, "high": 0.97, "runs": [0.86, 0.9, 0.88, 0.92, 0.87]}},
        "parameters": {"epochs": 3, ...},   # the values the runs used, seed aside
        "recorded": {"date": "2026-12-07", "runs": 5, "seeds": [1, 2, 3, 4, 5], "device": "...",
                     "python": "3.11.9", "packages": {"torch": "2.14.1", ...}, "tools": "1.0.0"}}}}}

The rule (``band_of``) is the 99.9% prediction interval of a new run from K runs, as if their values were
normal: mean +- t * sd * sqrt(1 + 1/K), with Student's t at 0.9995 for K - 1 degrees of freedom. So a new honest
run lands outside about once in a thousand checks, whatever K: few runs give a wide band (t = 8.6 for K = 5), more
runs a narrower one (t = 3.9 for K = 20). A range rule (lowest to highest, widened by the spread) cried wolf: five
runs of lesson 01 spanned 0.94 to 0.98, and the sixth seed tried scored 0.89. The band is at least
``FLOOR_SHARE`` of the median wide on each side, so a metric no seed moves (deterministic on CPU) still has room for
the rounding a new library version brings; it holds every recorded run, and it does not go below 0 when no run did
(a loss, an accuracy). The runs include the lesson's own seed, the one CI runs with (``experiments.recording``).
Speed metrics (seconds, GFLOP/s) measure the machine, not the lesson: they are never banded.

Also read by the course's own ``bands.py`` (the line a student's run prints); keep the format in step with it.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CourseError

BANDS_FILE = "lesson-bands.json"
FORMAT = 1
FLOOR_SHARE = 0.05
MIN_RUNS = 3
MODES = ("smoke", "full")
DEVICES = ("cpu", "cuda")
RULE = (
    "mean +- t(0.9995, runs - 1) * sd * sqrt(1 + 1/runs): a new honest run falls outside about once in 1000; "
    f"at least {FLOOR_SHARE:.0%} of the median on each side; not below 0 when no run was"
)
# Student's t at 0.9995 by degrees of freedom, 2 to 30; beyond, 30's (a little wider, never narrower).
_T = (31.599, 12.924, 8.61, 6.869, 5.959, 5.408, 5.041, 4.781, 4.587, 4.437, 4.318, 4.221, 4.14, 4.073, 4.015)
_T += (3.965, 3.922, 3.883, 3.85, 3.819, 3.792, 3.768, 3.745, 3.725, 3.707, 3.69, 3.674, 3.659, 3.646)
T_9995 = dict(zip(range(2, 31), _T))
COUNTERS = ("epoch", "step", "iteration")
# Words in a metric's name that make it a measure of the machine's speed, which no band can hold across machines.
SPEED_WORDS = {"seconds", "second", "time", "ms", "gflops", "flops", "throughput", "fps", "duration", "elapsed"}
UNBANDED_PARAMETERS = ("seed", "smoke")  # a band holds for every seed; the mode is in its key


def band_key(mode: str, device: str) -> str:
    """``smoke-cpu``: the mode and device kind a band is for."""
    return f"{mode}-{device}"


def is_speed(name: str) -> bool:
    """Whether a metric measures the machine's speed (``seconds_per_epoch``, ``cpu_gflops``)."""
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(word in SPEED_WORDS or word.endswith("seconds") for word in words)


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def bandable(metrics: dict) -> dict:
    """The final metrics a band can hold: numbers, neither counters nor speeds."""
    return {
        name: value
        for name, value in metrics.items()
        if is_number(value) and name not in COUNTERS and not is_speed(name)
    }


def not_finite(metrics: dict) -> list[str]:
    """The names of final metrics that are NaN or infinite: a lesson logging one fails, band or not."""
    return [name for name, value in metrics.items() if is_number(value) and not math.isfinite(value)]


def band_of(values: list[float]) -> tuple[float, float]:
    """The band of K honest values (see the module's docstring for why this rule)."""
    runs = len(values)
    mean = statistics.fmean(values)
    margin = T_9995[min(runs - 1, max(T_9995))] * statistics.stdev(values) * math.sqrt(1 + 1 / runs)
    margin = max(margin, FLOOR_SHARE * abs(statistics.median(values)), 1e-9)
    floor = 0.0 if min(values) >= 0 else -math.inf
    low, high = min(mean - margin, min(values)), max(mean + margin, max(values))  # every recorded run is inside
    return round_value(max(low, floor)), round_value(high)


def round_value(value: float) -> float:
    """Six significant digits: the file stays readable, and no band moves by it."""
    return float(f"{value:.6g}")


def compared_parameters(values: dict) -> dict:
    """A run's parameter values as a band records and compares them: the seed and the mode aside."""
    return {name: value for name, value in values.items() if name not in UNBANDED_PARAMETERS}


@dataclass
class Band:
    """The band of one lesson in one mode on one device kind."""

    lesson: str
    key: str
    headline: str | None
    metrics: dict  # name -> {"low", "high", "runs"}
    parameters: dict
    recorded: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "headline": self.headline,
            "metrics": self.metrics,
            "parameters": self.parameters,
            "recorded": self.recorded,
        }

    def limits(self, name: str) -> tuple[float, float] | None:
        entry = self.metrics.get(name)
        return (entry["low"], entry["high"]) if entry else None

    def provenance(self) -> str:
        """When, where and with what the band was recorded, in a few words."""
        r = self.recorded
        packages = ", ".join(f"{name} {version}" for name, version in (r.get("packages") or {}).items() if version)
        return f"{r.get('runs')} runs on {r.get('date')}, {r.get('device')}, Python {r.get('python')}" + (
            f", {packages}" if packages else ""
        )


def bands_path(root: Path) -> Path:
    return root / BANDS_FILE


def read_bands(root: Path) -> dict[tuple[str, str], Band]:
    """Every band of the course, keyed by (lesson, key); none when the file is missing.

    A file that is not what ``course bands record`` writes (edited by hand, merged badly) raises one
    ``CourseError`` naming the place and what is wrong.
    """
    path = bands_path(root)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _bad(path, f"it is not JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("bands"), dict):
        raise _bad(path, 'it has no "bands" object')
    if data.get("format") != FORMAT:
        raise _bad(path, f'its "format" is {data.get("format")!r}; these tools read format {FORMAT}')
    bands = {}
    for lesson, by_key in data["bands"].items():
        if not isinstance(by_key, dict):
            raise _bad(path, f"{lesson}: not an object of bands by mode and device")
        for key, entry in by_key.items():
            bands[lesson, key] = _band(path, lesson, key, entry)
    return bands


def _band(path: Path, lesson: str, key: str, entry) -> Band:
    where = f"{lesson} {key}"
    mode, _, device = key.partition("-")
    if mode not in MODES or device not in DEVICES:
        raise _bad(
            path,
            f'{where}: the key must be a mode ({", ".join(MODES)}) and a device ({", ".join(DEVICES)}), as "smoke-cpu"',
        )
    if not isinstance(entry, dict) or not isinstance(entry.get("metrics"), dict) or not entry["metrics"]:
        raise _bad(path, f'{where}: no "metrics"')
    for name, limits in entry["metrics"].items():
        low, high = (limits.get("low"), limits.get("high")) if isinstance(limits, dict) else (None, None)
        if not (is_number(low) and is_number(high) and math.isfinite(low) and math.isfinite(high)):
            raise _bad(path, f'{where} {name}: "low" and "high" must be finite numbers, not {low!r} and {high!r}')
        if low > high:
            raise _bad(path, f"{where} {name}: low {low:g} is above high {high:g}")
    if not isinstance(entry.get("parameters", {}), dict) or not isinstance(entry.get("recorded", {}), dict):
        raise _bad(path, f'{where}: "parameters" and "recorded" must be objects')
    return Band(
        lesson, key, entry.get("headline"), entry["metrics"], entry.get("parameters", {}), entry.get("recorded", {})
    )


class BandFileError(CourseError):
    """``lesson-bands.json`` is not what ``course bands record`` writes: ``what`` is wrong, ``fix`` says how to mend it."""

    def __init__(self, path: Path, what: str):
        self.what = what
        self.fix = (
            f"undo the hand edit (git checkout {path.name}) or record the band again with `course bands record LESSON`"
        )
        super().__init__(f"{path.name} cannot be used: {what}. {self.fix[0].upper()}{self.fix[1:]}")


def _bad(path: Path, what: str) -> BandFileError:
    return BandFileError(path, what)


def write_bands(root: Path, bands: dict[tuple[str, str], Band]) -> Path:
    """The whole file, lessons and keys sorted, so a review's diff shows only what changed."""
    from .atomic import write_json

    by_lesson: dict = {}
    for (lesson, key), band in sorted(bands.items()):
        by_lesson.setdefault(lesson, {})[key] = band.to_json()
    path = bands_path(root)
    data = {"format": FORMAT, "rule": RULE, "bands": by_lesson}
    write_json(path, data)
    return path
