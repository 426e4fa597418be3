"""Example plugin for ``generalise``: a hierarchy kind and a quality model, registered with no change to
anon_pipeline.

* ``{kind: bands, widths: [10, 20, 60]}`` -- numbers in fixed-width bands ``[a, a + w)`` aligned on multiples of
  ``w``, one level per width; each width a multiple of the one before, so the bands nest (the hierarchy is a tree).
* ``quality: max_level`` -- the highest generalisation level over the quasi-identifiers: a search that keeps every
  column as detailed as it can, rather than trading one column for another.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from anon_pipeline.hierarchies import intervals, register_hierarchy_kind
from anon_pipeline.search.quality import Quality, register_quality_model
from anon_pipeline.strict_model import StrictModel


class BandsSpec(StrictModel):
    widths: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _nested(self) -> "BandsSpec":
        for narrow, wide in zip([None, *self.widths], self.widths):
            if wide <= 0 or (narrow is not None and not float(wide / narrow).is_integer()):
                raise ValueError("each width must be positive and a whole multiple of the one before")
        return self


@register_hierarchy_kind("bands", BandsSpec, value_local=True)
def bands(arg: BandsSpec, values: pd.Series, base_dir: Path) -> pd.DataFrame:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty:
        return intervals(values, [[0, w] for w in arg.widths])
    low, high = float(numbers.min()), float(numbers.max())
    return intervals(values, [np.arange(math.floor(low / w), math.floor(high / w) + 2) * w for w in arg.widths])


@register_quality_model("max_level")
class MaxLevel(Quality):
    """The highest level of a node: it only grows with generalisation, and needs no grouping."""

    def bounds(self, nodes: np.ndarray) -> np.ndarray:
        return nodes.max(axis=1).astype(np.float64)

    def exact_is_bound(self, max_outliers: int) -> bool:
        return True

    def score(self, levels, groups, class_outlier) -> float:
        return float(levels.max())
