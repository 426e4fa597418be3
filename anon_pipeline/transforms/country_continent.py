"""``country_continent``: country name -> continent, or the source notebook's cross-continent region, offline."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from anon_pipeline.reference.countries import CROSS_CONTINENT, continents
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op
from anon_pipeline.transforms.unmatched import fill_unmatched


class CountryContinentParams(OpParams):
    #: ``continent``: the 7-continent scheme; ``cross_continent``: APAC, Europe, Africa, The Americas.
    level: Literal["continent", "cross_continent"] = "continent"
    #: Extra name -> continent entries for names the shipped M49 and alias tables do not know.
    aliases: dict[str, str] = {}
    unknown_label: str | None = None
    missing_label: str = "missing"


@register_op("country_continent")
class CountryContinent(ColumnOp):
    Params = CountryContinentParams
    value_wise = True
    fit_needs = FitNeeds.NOTHING
    params: CountryContinentParams

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        mapped = continents(values, p.aliases)
        if p.level == "cross_continent":
            mapped = mapped.map(CROSS_CONTINENT)
        return fill_unmatched(mapped, values, ctx, self.name, label=p.unknown_label,
                              what="are not country names the shipped M49 or alias table knows (add them with aliases)",
                              missing_label=p.missing_label).rename(values.name)
