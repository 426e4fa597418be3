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
