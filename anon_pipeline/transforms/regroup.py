"""``regroup``: merge categories into named groups (the source notebook's education tiers, region groups)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import model_validator

from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op
from anon_pipeline.transforms.unmatched import fill_unmatched


class RegroupParams(OpParams):
    #: group name -> the input values it holds.
    groups: dict[str, list[str]]
    #: Label for values no group lists; ``None`` makes them an error.
    unknown_label: str | None = None
    missing_label: str = "missing"

    @model_validator(mode="after")
    def _disjoint(self) -> "RegroupParams":
        seen: dict[str, str] = {}
        for group, members in self.groups.items():
            for value in members:
                if value in seen and seen[value] != group:
                    raise ValueError(f"a value is listed in two groups ('{seen[value]}' and '{group}')")
                seen[value] = group
        return self


@register_op("regroup")
class Regroup(ColumnOp):
    Params = RegroupParams
    value_wise = True
    fit_needs = FitNeeds.NOTHING
    params: RegroupParams

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        mapping = {str(v): g for g, members in p.groups.items() for v in members}
        mapped = values.astype("str").map(mapping).where(values.notna())
        return fill_unmatched(mapped, values, ctx, self.name, label=p.unknown_label,
                              what="belong to no group", missing_label=p.missing_label).rename(values.name)
