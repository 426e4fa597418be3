"""Small PNG bar charts of the utility report's distributions, before and after, for a person to look at; and
utility against epsilon of a DP synthesis (the report's and the benchmark's).

Only what the report already lists is drawn (released categories; raw categories of at least
``MIN_CATEGORY_COUNT`` rows, rarer ones pooled), so a plot shows nothing the JSON report does not. Both draw
off-screen (Pillow's images; matplotlib's Agg canvas, no pyplot state), so this works in a server process without a
display.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

#: Pixel sizes of a distribution plot: a panel's width, one bar's row, the text.
_PANEL_WIDTH = 260
_ROW = 12
_TEXT = 9
_TITLE = 11
_COLOURS = {"before": (76, 114, 176), "after": (221, 132, 82)}


def distribution_png(column: str, before: dict[str, int] | None, after: dict[str, int]) -> bytes:
    """Horizontal bar charts of the counts per category: before and after side by side (after only when the raw
    side is not listed). Drawn with Pillow: matplotlib took about 0.6 s for a dozen columns (its import, and an
    axes with its ticks per panel), once per utility report in the Dagster UI, for bars and three ticks."""
    from PIL import Image, ImageDraw, ImageFont

    sides = [("before", before), ("after", after)] if before else [("after", after)]
    text, title = ImageFont.load_default(size=_TEXT), ImageFont.load_default(size=_TITLE)
    bars = max(len(counts) for _, counts in sides)
    top, axis = _TITLE + 10, _TEXT + 12
    image = Image.new("RGB", (_PANEL_WIDTH * len(sides), top + _ROW * bars + axis), "white")
    draw = ImageDraw.Draw(image)
    # Labels take what they need, up to 45 % of a panel; a longer one is cut short with an ellipsis.
    label_width = min(max((draw.textlength(str(k), font=text) for _, counts in sides for k in counts), default=0),
                      0.45 * _PANEL_WIDTH)
    for i, (side, counts) in enumerate(sides):
        ticks = _ticks(max(counts.values(), default=0))
        left = i * _PANEL_WIDTH + label_width + 8
        # Room for half the last tick's label, which is centred on the axis' end.
        right = (i + 1) * _PANEL_WIDTH - draw.textlength(f"{ticks[-1]:,g}", font=text) / 2 - 4
        draw.text(((left + right) / 2, 4), f"{column}: {side}", fill="black", font=title, anchor="mt")
        scale = (right - left) / ticks[-1]
        for row, (label, count) in enumerate(counts.items()):
            y = top + row * _ROW
            draw.rectangle((left, y + 1, left + max(count * scale, 1), y + _ROW - 2), fill=_COLOURS[side])
            draw.text((left - 3, y + _ROW / 2), _fit(str(label), label_width, draw, text), fill="black", font=text,
                      anchor="rm")
        bottom = top + _ROW * bars + 2
        draw.line((left, top - 2, left, bottom), fill="black")
        draw.line((left, bottom, right, bottom), fill="black")
        for tick in ticks:
            x = left + tick * scale
            draw.line((x, bottom, x, bottom + 3), fill="black")
            draw.text((x, bottom + 4), f"{tick:,g}", fill="black", font=text, anchor="mt")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ticks(top: float) -> list[float]:
    """At most four round ticks from 0 past ``top`` (1, 2, 2.5 or 5 times a power of ten apart): counts of six
    digits would overlap beyond that."""
    if top <= 0:
        return [0, 1]
    power = 10 ** math.floor(math.log10(top / 3))
    step = next(power * m for m in (1, 2, 2.5, 5, 10) if power * m * 3 >= top)
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


def _fit(label: str, width: float, draw, font) -> str:
    if draw.textlength(label, font=font) <= width:
        return label
    while label and draw.textlength(label + "…", font=font) > width:
        label = label[:-1]
    return label + "…"


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
