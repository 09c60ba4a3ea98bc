"""A run's final metrics against its lesson's band (``metric_bands``): `course test` and `course run` fail a lesson
whose metrics left it, saying what, by how much, and which packages changed since the band was recorded.

What a check decides, in order: a NaN or infinite metric fails, band or not; no band for the run's mode and device
passes as "no band"; a run given other parameters with ``-p`` than the band's (the seed aside) passes as "no band";
a band recorded with other values of the lesson's own parameters fails as stale (record it again); then each
banded metric must be logged and inside its band. Every check is also kept in ``build/band-history.jsonl``, the
"runs since" of the site's charts.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .atomic import append_line
from .formatting import cell
from .metric_bands import Band, band_key, bandable, compared_parameters, not_finite

HISTORY_FILE = "band-history.jsonl"
HISTORY_KEPT = 200  # lines read back per lesson and key


@dataclass
class Verdict:
    """What a check found; ``failure`` is the one line a failing lesson shows, ``changed`` what moved since."""

    key: str
    state: str  # "within", "outside", "stale", "not finite", "no band", "off"
    note: str = ""
    metrics: list = field(default_factory=list)  # {"name", "value", "low", "high", "state"}
    recorded: str | None = None
    changed: list = field(default_factory=list)  # "torch 2.13.0 -> 2.14.1"
    failure: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def check(
    bands: dict,
    lesson: str,
    metrics: dict,
    *,
    mode: str,
    device: str | None,
    parameters: dict,
    given: set,
    environment: dict,
) -> Verdict:
    """Judge ``metrics`` (the final values a run logged) of a run in ``mode`` on ``device`` with ``parameters``
    (every value its kernel used; ``given`` names those set with ``-p``), in ``environment`` (``python`` and
    ``packages``' versions, as `course test` keys its cache and a band records them)."""
    key = band_key(mode, device or "unknown")
    broken = not_finite(metrics)
    if broken:
        shown = ", ".join(f"{name} = {metrics[name]}" for name in broken)
        return Verdict(key, "not finite", failure=f"{shown}: a metric that is not a finite number always fails")
    band: Band | None = bands.get((lesson, key))
    if band is None and metrics and not bandable(metrics):
        return Verdict(key, "no band", note=f"it logs only speeds ({', '.join(metrics)}), which no band holds")
    if band is None:
        return Verdict(key, "no band", note=_no_band(bands, lesson, key, device))
    differing = _differences(band.parameters, compared_parameters(parameters))
    recorded = band.provenance()
    if differing:
        names = {name for name, _, _ in differing}
        said = _said(differing)
        if names <= given:
            return Verdict(key, "no band", note=f"run with other parameters: {said}", recorded=recorded)
        return Verdict(
            key,
            "stale",
            recorded=recorded,
            failure=f"the {key} band was recorded with other parameters than the lesson now has: {said}; "
            f"record it again: course bands record {lesson}{' --full' if mode == 'full' else ''}",
        )
    rows, outside = [], []
    logged = bandable(metrics)
    for name, limits in band.metrics.items():
        low, high = limits["low"], limits["high"]
        value = logged.get(name)
        state = "missing" if value is None else "below" if value < low else "above" if value > high else "within"
        rows.append({"name": name, "value": value, "low": low, "high": high, "state": state})
        if state == "missing":
            outside.append(f"{name} was not logged (its band is {cell(low)} to {cell(high)})")
        elif state != "within":
            outside.append(f"{name} {cell(value)} is {state} its band {cell(low)} to {cell(high)}")
    rows += [
        {"name": n, "value": v, "low": None, "high": None, "state": "no band"}
        for n, v in logged.items()
        if n not in band.metrics
    ]
    changed = changed_packages(band.recorded, environment)
    if not outside:
        return Verdict(key, "within", metrics=rows, recorded=recorded, changed=changed)
    return Verdict(
        key,
        "outside",
        metrics=rows,
        recorded=recorded,
        changed=changed,
        failure=f"{'; '.join(outside)} ({key} band: {recorded})",
    )


def stale_parameters(band: Band, parameters: dict) -> str:
    """How a run's ``parameters`` differ from those ``band`` was recorded with, the seed aside (empty: they agree)."""
    return _said(_differences(band.parameters, compared_parameters(parameters)))


def _said(differing: list) -> str:
    return ", ".join(f"{name} {cell(now)} (band: {cell(then)})" for name, then, now in differing)


def _no_band(bands: dict, lesson: str, key: str, device: str | None) -> str:
    if device is None:
        return "the device it ran on is unknown"
    others = sorted(k for (name, k) in bands if name == lesson)
    if others:
        return f"none for {key} (recorded: {', '.join(others)})"
    return f"none recorded for {key}: course bands record {lesson}{' --full' if key.startswith('full') else ''}"


class _Absent:
    """A parameter one side has and the other has not: shown as ``absent``."""

    def __str__(self) -> str:
        return "absent"


_MISSING = _Absent()


def _differences(then: dict, now: dict) -> list[tuple[str, object, object]]:
    return [
        (name, then.get(name, _MISSING), now.get(name, _MISSING))
        for name in dict.fromkeys([*then, *now])
        if then.get(name, _MISSING) != now.get(name, _MISSING)
    ]


def changed_packages(recorded: dict, environment: dict) -> list[str]:
    """``torch 2.13.0 -> 2.14.1`` for each package (and Python) whose version differs between a band's record and
    ``environment``; both hold ``python`` and ``packages``."""
    then, now = (
        {"python": versions.get("python"), **(versions.get("packages") or {})} for versions in (recorded, environment)
    )
    return [
        f"{name} {then[name] or 'absent'} -> {now.get(name) or 'absent'}"
        for name in then
        if name in now and then[name] != now.get(name)
    ]


def failure_lines(verdict: dict | None) -> list[str]:
    """A verdict's failure (as in a ``LessonResult``), then what changed since the band: what a failing lesson
    prints; none when it did not fail."""
    if not verdict or verdict.get("failure") is None:
        return []
    if verdict["state"] not in ("outside", "stale"):
        return [verdict["failure"]]
    changed = (
        "changed since the band was recorded: " + ", ".join(verdict["changed"])
        if verdict["changed"]
        else "no key package's version differs from the band's record"
    )
    return [verdict["failure"], changed]


def summary(verdict: dict | None) -> str:
    """A verdict (as in a report) in a few words: ``within (smoke-cpu)``, ``no band: none recorded ...``."""
    if not verdict:
        return "not checked"
    if verdict["state"] in ("within", "outside", "stale", "not finite"):
        return f"{verdict['state']} ({verdict['key']})"
    return f"{verdict['state']}" + (f": {verdict['note']}" if verdict.get("note") else "")


def remember(build: Path, lesson: str, verdict: Verdict, metrics: dict, headline: str | None) -> None:
    """Keep this check in ``build/band-history.jsonl`` (one short appended line; a torn last line is skipped)."""
    if verdict.state == "off" or headline is None or headline not in metrics:
        return
    line = {
        "lesson": lesson,
        "key": verdict.key,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "headline": headline,
        "value": metrics[headline],
        "state": verdict.state,
    }
    append_line(build / HISTORY_FILE, json.dumps(line))


def history(build: Path, lesson: str, key: str | None) -> list[dict]:
    """The checks kept for a lesson and key (any key: None), oldest first (the last ``HISTORY_KEPT``)."""
    path = build / HISTORY_FILE
    if not path.exists():
        return []
    kept = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("lesson") == lesson and key in (None, line.get("key")):
            kept.append(line)
    return kept[-HISTORY_KEPT:]


def apply(
    result,
    metrics: dict,
    headline: str | None,
    *,
    bands,
    mode: str,
    parameters: dict,
    given: set,
    environment: dict,
    build: Path | None,
    enabled: bool = True,
):
    """Give ``result`` (a ``LessonResult`` that passed) its final metrics and their verdict; a failing verdict
    fails it. With ``enabled`` false (``--no-bands``) the verdict says "off" and fails nothing but NaN."""
    result.metrics, result.headline = dict(metrics), headline
    if not result.ok:
        return result
    ran = result.status != "cached"  # a cached pass is checked again, but it is no new run of the history
    if enabled or not_finite(metrics):  # NaN fails even with the check off
        verdict = check(
            bands if enabled else {},
            result.lesson,
            metrics,
            mode=mode,
            device=result.device,
            parameters=parameters,
            given=given,
            environment=environment,
        )
    else:
        verdict = Verdict(band_key(mode, result.device or "unknown"), "off", note="--no-bands")
    result.band = verdict.to_json()
    if verdict.failure is not None:
        result.status, result.error = "failed", verdict.failure
    if build is not None and ran:
        remember(build, result.lesson, verdict, metrics, headline)
    return result
