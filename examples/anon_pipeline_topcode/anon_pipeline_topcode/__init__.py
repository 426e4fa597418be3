"""Example plugin: ``top_code`` caps numeric values at a ceiling (and optionally floors them), so the few people
with extreme values stop standing out."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import model_validator

from anon_pipeline import ColumnOp, OpParams, register_op
from anon_pipeline.errors import TransformError


class TopCodeParams(OpParams):
    ceiling: float
    floor: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "TopCodeParams":
        if self.floor is not None and self.floor >= self.ceiling:
            raise ValueError("floor must be below ceiling")
        return self


@register_op("top_code")
class TopCode(ColumnOp):
    Params = TopCodeParams
    params: TopCodeParams

    def _numbers(self, values: pd.Series, ctx) -> pd.Series:
        # pandas' own error would quote the offending cell; ours counts the rows.
        x = pd.to_numeric(values, errors="coerce")
        bad = x.isna() & values.notna()
        if bad.any():
            raise TransformError(ctx.column, self.name, "values are not numeric", n_rows=int(bad.sum()))
        return x

    def fit(self, values: pd.Series, ctx) -> dict[str, Any]:
        # The plan records how many values were capped: a count, never the values themselves.
        x = self._numbers(values, ctx)
        return {"capped_above": int((x > self.params.ceiling).sum()),
                "capped_below": int((x < self.params.floor).sum()) if self.params.floor is not None else 0}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx) -> pd.Series:
        return self._numbers(values, ctx).clip(lower=self.params.floor, upper=self.params.ceiling)
