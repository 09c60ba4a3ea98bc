"""What `course test` prints and writes: a line per finished lesson, a summary table, report.json/md."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_json, write_text
from ..band_check import failure_lines
from ..band_check import summary as band_summary
from ..formatting import cell, escape_markdown, fenced, markdown_table, plural, text_table
from .job import LessonResult

_MARK = {"passed": "PASS", "cached": "CACHED", "failed": "FAIL", "timed out": "TIMEOUT", "interrupted": "STOPPED"}
STATUSES = ("passed", "cached", "failed", "timed out", "interrupted")


def stamped(result):
    """``result`` with the time it ended, for the report (a cached result keeps the time it really ran)."""
    result.finished_at = result.finished_at or time.strftime("%Y-%m-%d %H:%M:%S")
    return result


@dataclass
class Report:
    """A ``report.json`` read back: how the run was made and what came of each lesson."""

    options: dict
    environment: dict
    results: list[LessonResult]
    earlier: set[str]  # the lessons whose rows were kept from earlier runs (not run that time)

    def result(self, lesson: str) -> LessonResult | None:
        return next((result for result in self.results if result.lesson == lesson), None)


def read_report(path: Path) -> Report | None:
    """The one reader of ``report.json`` (``write_reports`` is its one writer); None when it is missing or
    cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["lessons"]
        return Report(
            options=dict(data.get("options") or {}),
            environment=dict(data.get("environment") or {}),
            results=[LessonResult.from_json(row) for row in rows],
            earlier={row["lesson"] for row in rows if not row.get("this_run", True)},
        )
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None


def earlier_results(path: Path) -> dict:
    """lesson -> result of an earlier ``report.json``, to keep beside a run of some lessons only."""
    report = read_report(path)  # none yet, or one that cannot be read: it is rewritten
    return {result.lesson: result for result in report.results} if report else {}


def status_line(result) -> str:
    """One line for a finished lesson, e.g. ``PASS     01_first_model  23.4 s  cpu``."""
    text = (
        f"{_MARK.get(result.status, result.status.upper()):<8} {result.lesson}  {result.seconds:.1f} s  {where(result)}"
    )
    if result.status == "cached":
        text += "  (unchanged since it passed)"
    headline = result.metrics.get(result.headline) if result.headline else None
    if result.ok and headline is not None:
        text += f"  {result.headline} {cell(headline)}" + (f": {band_summary(result.band)}" if result.band else "")
    if not result.ok:
        text += f"\n         {result.failure()}"
        text += "".join(f"\n         {line}" for line in failure_lines(result.band)[1:])
    for warning in result.warnings:
        text += f"\n         warning: {warning}"
    return text


def where(result) -> str:
    """The device (GPU name and peak GPU memory) and the peak RAM of a lesson."""
    ram = f", peak RAM {result.peak_ram_mb / 1024:.1f} GiB" if result.peak_ram_mb else ""
    if result.device == "cuda":
        memory = f", peak {result.peak_gpu_memory_mb:.0f} MiB" if result.peak_gpu_memory_mb is not None else ""
        return f"cuda ({result.gpu_name}{memory}){ram}"
    return (result.device or "device unknown") + ram


def summary_table(results) -> str:
    """A plain-text table of every lesson and a totals line."""
    columns = ["lesson", "status", "seconds", "device", "peak GPU MiB", "peak RAM MiB", "failing cell", "band"]
    rows = [
        {
            "lesson": r.lesson,
            "status": r.status,
            "seconds": f"{r.seconds:.1f}",
            "device": r.gpu_name or r.device or "-",
            "peak GPU MiB": "-" if r.peak_gpu_memory_mb is None else f"{r.peak_gpu_memory_mb:.0f}",
            "peak RAM MiB": "-" if r.peak_ram_mb is None else f"{r.peak_ram_mb:.0f}",
            "failing cell": "-" if r.failed_cell is None else str(r.failed_cell),
            "band": band_summary(r.band) if r.band else "-",
        }
        for r in results
    ]
    return text_table(columns, rows) + "\n\n" + totals(results)


def totals(results) -> str:
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts.get(s)]
    return f"{plural(len(results), 'lesson')}: " + (", ".join(parts) or "none run")


def write_reports(folder: Path, results, *, options: dict, environment: dict, earlier=()) -> tuple[Path, Path]:
    """``report.json`` (for tools) and ``report.md`` (for people, e.g. a CI job summary).

    ``earlier`` are the lessons of ``results`` that were not run this time: rows kept from the
    previous report, so a run of some lessons does not hide how the others did.
    """
    from .. import __version__

    data = {
        "options": options,
        "environment": {**environment, "platform": platform.platform()},
        "tools": __version__,
        "summary": totals(results) + _kept(earlier),
        "ok": all(r.ok for r in results),
        "lessons": [{**r.to_json(), "this_run": r.lesson not in earlier} for r in results],
    }
    json_path, md_path = folder / "report.json", folder / "report.md"
    write_json(json_path, data)
    write_text(md_path, markdown(results, environment, earlier))
    return json_path, md_path


def _kept(earlier) -> str:
    return f" ({plural(len(earlier), 'row')} from earlier runs, not run this time)" if earlier else ""


def markdown(results, environment: dict, earlier=()) -> str:
    from .. import __version__

    columns = [
        "lesson",
        "status",
        "seconds",
        "device",
        "GPU",
        "peak GPU memory (MiB)",
        "peak RAM (MiB)",
        "failing cell",
        "ran",
    ]
    rows = [
        {
            "lesson": r.lesson,
            "status": ("cached (unchanged since it passed)" if r.status == "cached" else r.status)
            + (" (earlier run)" if r.lesson in earlier else ""),
            "seconds": f"{r.seconds:.1f}",
            "device": r.device or "unknown",
            "GPU": r.gpu_name,
            "peak GPU memory (MiB)": None if r.peak_gpu_memory_mb is None else f"{r.peak_gpu_memory_mb:.0f}",
            "peak RAM (MiB)": None if r.peak_ram_mb is None else f"{r.peak_ram_mb:.0f}",
            "failing cell": r.failed_cell,
            "ran": r.finished_at,
        }
        for r in results
    ]
    lines = [
        "# Lesson report",
        "",
        f"{totals(results)}{_kept(earlier)} (Python {environment.get('python')}, "
        f"torch {environment.get('packages', {}).get('torch')}, colab-course-tools {__version__})",
        "",
        markdown_table(
            columns, rows, right=("seconds", "peak GPU memory (MiB)", "peak RAM (MiB)", "failing cell")
        ).rstrip("\n"),
    ]
    lines += metrics_section(results)
    warned = [(r.lesson, warning) for r in results for warning in r.warnings]
    if warned:
        lines += ["", "## Warnings", "", *(f"- {lesson}: {escape_markdown(warning)}" for lesson, warning in warned)]
    for r in results:
        if r.ok:
            continue
        lines += ["", f"## {r.lesson}: {r.failed_where()}", "", f"**{escape_markdown(r.error)}**"]
        lines += [f"\n{escape_markdown(line)}" for line in failure_lines(r.band)[1:]]
        if r.failed_source:
            lines += ["", fenced(r.failed_source, "python")]
        if r.traceback:
            lines += ["", "<details><summary>traceback</summary>", "", fenced(r.traceback), "", "</details>"]
    return "\n".join(lines) + "\n"


def metrics_section(results) -> list[str]:
    """Each lesson's final metrics with their bands (``lesson-bands.json``), as Markdown lines."""
    rows = []
    for r in results:
        verdict = r.band or {}
        checked = {row["name"]: row for row in verdict.get("metrics") or []}
        for name, value in r.metrics.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            row = checked.get(name) or {}
            low, high = row.get("low"), row.get("high")
            rows.append(
                {
                    "lesson": r.lesson,
                    "metric": name + (" (headline)" if name == r.headline else ""),
                    "value": cell(value),
                    "band": f"{cell(low)} to {cell(high)}" if low is not None else "",
                    "verdict": row.get("state") or band_summary(verdict or None),
                }
            )
    if not rows:
        return []
    notes = [f"- {r.lesson}: {escape_markdown(band_summary(r.band))}" for r in results if r.band and r.band.get("note")]
    table = markdown_table(["lesson", "metric", "value", "band", "verdict"], rows, right=("value",)).rstrip("\n")
    return ["", "## Metrics and their bands", "", table, *([""] + notes if notes else [])]
