"""Small PNG bar charts of the utility report's distributions, before and after, for a person to look at; and
utility against epsilon of a DP synthesis (the report's and the benchmark's).

Only what the report already lists is drawn (released categories; raw categories of at least
``MIN_CATEGORY_COUNT`` rows, rarer ones pooled), so a plot shows nothing the JSON report does not. matplotlib
draws off-screen (its Agg canvas, no pyplot state), so this works in a server process without a display.
"""

from __future__ import annotations

import base64
import io
from typing import Any

#: Bars drawn per side; the report lists at most 50 categories.
_HEIGHT_PER_BAR = 0.14
#: Width of one character of a 6-point tick label.
_LABEL_INCH_PER_CHAR = 0.05


def distribution_png(column: str, before: dict[str, int] | None, after: dict[str, int]) -> bytes:
    """Horizontal bar charts of the counts per category: before and after side by side (after only when the raw
    side is not listed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    sides = [("before", before), ("after", after)] if before else [("after", after)]
    bars = max(len(counts) for _, counts in sides)
    width, height = 3.2 * len(sides), 0.9 + _HEIGHT_PER_BAR * bars
    figure = Figure(figsize=(width, height), dpi=80)
    # Margins from the longest label, not a constrained layout: measuring every text took most of the drawing
    # time, once per column and run in the Dagster UI.
    label = _LABEL_INCH_PER_CHAR * max((len(str(k)) for _, counts in sides for k in counts), default=1) + 0.15
    panel = width / len(sides)
    figure.subplots_adjust(left=min(label / width, 0.45), right=0.97, bottom=0.45 / height, top=1 - 0.3 / height,
                           wspace=min(label / panel, 0.9))
    FigureCanvasAgg(figure)
    for i, (title, counts) in enumerate(sides):
        axes = figure.add_subplot(1, len(sides), i + 1)
        labels = list(counts)
        axes.barh(range(len(labels)), list(counts.values()), color="#4c72b0" if title == "before" else "#dd8452")
        axes.set_yticks(range(len(labels)), labels, fontsize=6)
        axes.invert_yaxis()
        axes.tick_params(axis="x", labelsize=6)
        axes.xaxis.set_major_locator(MaxNLocator(3))  # counts of six digits: more ticks would overlap
        axes.set_title(f"{column}: {title}", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def distribution_plots(report: dict[str, Any]) -> dict[str, bytes]:
    """Released column -> PNG, for every column whose released distribution the report lists."""
    return {name: distribution_png(name, entry.get("before_distribution"), entry["after_distribution"])
            for name, entry in report["columns"].items() if entry.get("after_distribution")}


def epsilon_curves_png(panels: dict[str, dict[str, list[tuple[float, float]]]],
                       levels: dict[str, dict[str, float]] | None = None) -> bytes:
    """Measures against epsilon (log scale), one panel per measure: ``panels`` maps a panel's title to its
    series (name -> (epsilon, value) points; a one-point series is a marker); ``levels`` gives a panel
    horizontal lines (name -> value), for methods without an epsilon (non-DP synthesis, real data)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A level keeps its colour in every panel, after the series' colours.
    level_names = list(dict.fromkeys(name for panel in (levels or {}).values() for name in panel))
    first_level = max((len(series) for series in panels.values()), default=0)
    figure = Figure(figsize=(4.2 * len(panels), 3.2), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    for i, (title, series) in enumerate(panels.items()):
        axes = figure.add_subplot(1, len(panels), i + 1)
        for name, points in series.items():
            xs, ys = zip(*points) if points else ((), ())
            axes.plot(xs, ys, "o-" if len(points) > 1 else "D", label=name, markersize=5)
        for name, value in (levels or {}).get(title, {}).items():
            axes.axhline(value, linestyle="--", linewidth=1, color=f"C{first_level + level_names.index(name)}",
                         label=name)
        axes.set_xscale("log")
        ticks = sorted({x for points in series.values() for x, _ in points})
        axes.set_xticks(ticks, [f"{x:g}" for x in ticks])
        axes.minorticks_off()
        axes.set_xlabel("epsilon", fontsize=7)
        axes.set_title(title, fontsize=8)
        axes.tick_params(labelsize=6)
        axes.legend(fontsize=6)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def dp_utility_plots(report: dict[str, Any]) -> dict[str, bytes]:
    """DP synthesis step -> PNG of its marginal error against epsilon: fresh draws at the grid, and this
    release at its epsilon (the utility report's ``dp_utility``)."""
    out = {}
    for step, entry in report.get("dp_utility", {}).items():
        panels = {f"{label} marginals, mean TV error": {
            "fresh draw": [(p["epsilon"], p[key]) for p in entry["curve"] if key in p],
            "this release": [(entry["epsilon"], entry["released"][key])] if key in entry["released"] else []}
            for key, label in (("tv1_mean", "1-way"), ("tv2_mean", "2-way"))}
        out[f"{step}: utility against epsilon"] = epsilon_curves_png(panels)
    return out


def png_markdown(name: str, png: bytes) -> str:
    """A PNG as markdown with an inline (base64) image, for a UI that renders markdown."""
    alt = name.replace("[", "(").replace("]", ")")  # a bracket would end the image's alt text
    return f"**{name}**\n\n![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def distributions_markdown(report: dict[str, Any]) -> str:
    """The plots as markdown with inline (base64) images, for a UI that renders markdown; for a DP synthesis,
    its utility against epsilon first."""
    plots = {**dp_utility_plots(report), **distribution_plots(report)}
    return "\n\n".join(png_markdown(name, png) for name, png in plots.items()) \
        or "no column with a listed distribution"
