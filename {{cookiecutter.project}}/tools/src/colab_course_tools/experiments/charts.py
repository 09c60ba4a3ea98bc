"""A lesson's headline metric over its band's recorded runs and the checked runs since, with the band shaded: the
site's report page shows it as SVG (its text drawn as paths: no font, no script, nothing fetched), `course runs
LESSON --chart FILE.png` writes it as PNG. One panel per mode and device kind that has a band or a run."""

from __future__ import annotations

from pathlib import Path

from ..band_check import history
from ..errors import CourseError
from ..metric_bands import Band

RECORDED, WITHIN, OUTSIDE, BAND = "#7f7f7f", "#1f77b4", "#d62728", "#2ca02c"


def panels(bands: dict, build: Path, lesson: str) -> list[tuple[str, Band | None, list[dict]]]:
    """``(key, band, runs since)`` for each key of ``lesson`` with a band or a checked run."""
    keys = {key for (name, key) in bands if name == lesson}
    keys |= {line["key"] for line in history(build, lesson, None)}
    return [(key, bands.get((lesson, key)), history(build, lesson, key)) for key in sorted(keys)]


def draw(lesson: str, chart_panels: list, path: Path) -> Path:
    """Write the chart of ``chart_panels`` (from ``panels``) to ``path``: SVG or PNG by its suffix."""
    from ..atomic import write_bytes

    if path.suffix.lower() not in (".svg", ".png"):
        raise CourseError(f"{path.name}: a chart is written as .svg or .png; name the file so")
    write_bytes(path, render(lesson, chart_panels, path.suffix[1:].lower()))
    return path


def render(lesson: str, chart_panels: list, kind: str) -> bytes:
    """The chart as ``svg`` or ``png`` bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not chart_panels:
        raise CourseError(f"{lesson} has no band and no checked run yet: `course bands record {lesson}` makes one")
    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": lesson, "font.size": 9})
    figure, axes = plt.subplots(len(chart_panels), 1, figsize=(7, 2.6 * len(chart_panels)), squeeze=False)
    for axis, (key, band, since) in zip(axes[:, 0], chart_panels):
        _panel(axis, lesson, key, band, since)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format=kind, metadata={"Date": None} if kind == "svg" else {"Software": None}, dpi=110)
    plt.close(figure)
    return out.getvalue()


def _panel(axis, lesson: str, key: str, band: Band | None, since: list[dict]) -> None:
    name = (band.headline if band else None) or (since[-1]["headline"] if since else "headline")
    recorded = (band.metrics.get(name) or {}).get("runs", []) if band else []
    limits = band.limits(name) if band else None
    x = list(range(1, len(recorded) + 1))
    axis.scatter(x, recorded, color=RECORDED, label="runs the band was recorded from", zorder=3)
    later = [line["value"] for line in since]
    later_x = list(range(len(recorded) + 1, len(recorded) + len(later) + 1))
    outside = [limits is not None and not limits[0] <= value <= limits[1] for value in later]
    axis.plot(later_x, later, color=WITHIN, linewidth=0.8, zorder=2)
    axis.scatter(
        later_x, later, color=[OUTSIDE if out else WITHIN for out in outside], label="checked runs since", zorder=3
    )
    if limits is not None:
        axis.axhspan(*limits, color=BAND, alpha=0.15, label=f"band {limits[0]:.4g} to {limits[1]:.4g}")
    if recorded:
        axis.axvline(len(recorded) + 0.5, color=RECORDED, linewidth=0.6, linestyle=":")
    when = f", recorded {band.recorded.get('date')}" if band else ", no band"
    axis.set_title(f"{lesson}: {name} ({key}{when})", loc="left")
    axis.set_xlabel("run")
    axis.set_ylabel(name)
    axis.legend(loc="best", fontsize=7, frameon=False)
