"""``postcode_region``: UK postcode -> district, area, ONS region or nation, offline (shipped ONS tables)."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from anon_pipeline.reference.postcodes import lookup
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op
from anon_pipeline.transforms.unmatched import fill_unmatched


class PostcodeRegionParams(OpParams):
    level: Literal["district", "area", "region", "nation"] = "region"
    #: Label for postcodes the tables do not resolve; ``None`` makes them an error.
    unknown_label: str | None = "Unknown"
    missing_label: str = "missing"


@register_op("postcode_region")
class PostcodeRegion(ColumnOp):
    Params = PostcodeRegionParams
    value_wise = True
    fit_needs = FitNeeds.NOTHING
    params: PostcodeRegionParams

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        mapped = lookup(values, p.level)
        return fill_unmatched(mapped, values, ctx, self.name, label=p.unknown_label,
                              what=f"are not UK postcodes the {p.level} table knows",
                              missing_label=p.missing_label).rename(values.name)
