"""Small PNG bar charts of the utility report's distributions, before and after, for a person to look at.

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


def distribution_png(column: str, before: dict[str, int] | None, after: dict[str, int]) -> bytes:
    """Horizontal bar charts of the counts per category: before and after side by side (after only when the raw
    side is not listed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sides = [("before", before), ("after", after)] if before else [("after", after)]
    bars = max(len(counts) for _, counts in sides)
    figure = Figure(figsize=(3.2 * len(sides), 0.9 + _HEIGHT_PER_BAR * bars), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    for i, (title, counts) in enumerate(sides):
        axes = figure.add_subplot(1, len(sides), i + 1)
        labels = list(counts)
        axes.barh(range(len(labels)), list(counts.values()), color="#4c72b0" if title == "before" else "#dd8452")
        axes.set_yticks(range(len(labels)), labels, fontsize=6)
        axes.invert_yaxis()
        axes.tick_params(axis="x", labelsize=6)
        axes.set_title(f"{column}: {title}", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def distribution_plots(report: dict[str, Any]) -> dict[str, bytes]:
    """Released column -> PNG, for every column whose released distribution the report lists."""
    return {name: distribution_png(name, entry.get("before_distribution"), entry["after_distribution"])
            for name, entry in report["columns"].items() if entry.get("after_distribution")}


def distributions_markdown(report: dict[str, Any]) -> str:
    """The plots as markdown with inline (base64) images, for a UI that renders markdown."""
    parts = []
    for name, png in distribution_plots(report).items():
        parts.append(f"**{name}**\n\n![{name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")
    return "\n\n".join(parts) or "no column with a listed distribution"
