"""The utility report's distributions as small PNG plots: one per listed column, before beside after."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

from anon_pipeline.reports.plots import distribution_plots, distributions_markdown

REPORT = {"columns": {
    "education_code": {"before_distribution": {"primary": 40, "masters": 25, "<categories with fewer than 5 rows>": 6},
                       "after_distribution": {"a1": 40, "b2": 31}},
    "age_band": {"after_distribution": {"(0, 20]": 10, "(20, 40]": 61}},   # numeric before side: not listed
    "postcode": {"after_distribution": None},                             # too many categories to list
}}


def test_one_png_per_listed_column_before_beside_after():
    plots = distribution_plots(REPORT)
    assert set(plots) == {"education_code", "age_band"}
    both, after_only = (Image.open(io.BytesIO(plots[c])) for c in ("education_code", "age_band"))
    assert both.format == after_only.format == "PNG"
    assert both.width > 1.5 * after_only.width  # two panels against one
    assert max(both.size) <= 600


def test_markdown_embeds_every_plot_as_an_inline_image():
    text = distributions_markdown(REPORT)
    images = re.findall(r"!\[(\w+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert [name for name, _ in images] == ["education_code", "age_band"]
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for _, data in images)


def test_bar_lengths_are_in_proportion_to_the_counts():
    counts = {"a": 1000, "b": 250, "c": 500}
    png = distribution_plots({"columns": {"x": {"after_distribution": counts}}})["x"]
    image = Image.open(io.BytesIO(png)).convert("RGB")
    orange = (221, 132, 82)
    # Each bar is a run of rows of the bar colour; its length is the count of coloured pixels on a row.
    lengths = []
    for y in range(image.height):
        n = sum(image.getpixel((x, y)) == orange for x in range(image.width))
        if n and (not lengths or lengths[-1][0] != y - 1):
            lengths.append((y, n))
        elif n:
            lengths[-1] = (y, n)
    assert len(lengths) == 3
    drawn = [n for _, n in lengths]
    for (_, n), expected in zip(lengths, counts.values()):
        assert abs(n / drawn[0] - expected / 1000) < 0.01


def test_ticks_are_round_and_reach_past_the_largest_count():
    from anon_pipeline.reports.plots import _ticks

    for top in (1, 7, 40, 999, 1000, 123_456, 350_000):
        ticks = _ticks(top)
        step = ticks[1] - ticks[0]
        assert ticks[0] == 0 and ticks[-1] >= top and len(ticks) <= 5
        assert ticks[-2] < top  # no tick wasted past the one that covers the largest count
        mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
        assert mantissa in (1, 2, 2.5, 5)


def test_a_long_label_is_cut_short_not_drawn_over_the_bars():
    label = "<categories with fewer than 5 rows> " * 4
    png = distribution_plots({"columns": {"x": {"after_distribution": {label: 5, "b": 9}}}})["x"]
    image = Image.open(io.BytesIO(png)).convert("RGB")
    starts = [next(x for x in range(image.width) if image.getpixel((x, y)) == (221, 132, 82))
              for y in range(image.height) if (221, 132, 82) in [image.getpixel((x, y)) for x in range(image.width)]]
    # The bars start where a label of 45 % of the panel ends, and nothing but the bar colour is drawn on them.
    assert starts and max(starts) < 0.5 * image.width
