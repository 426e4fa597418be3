"""``age``: a date of birth becomes whole years of age at the policy's reference date.

A fixed reference date (not "today") keeps runs reproducible; the source notebook used "this year".
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op


class AgeParams(OpParams):
    #: Overrides the policy's reference_date for this column.
    reference_date: date | None = None


@register_op("age")
class Age(ColumnOp):
    Params = AgeParams
    value_wise = True
    fit_needs = FitNeeds.NOTHING
    params: AgeParams

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        ref = self.params.reference_date or ctx.reference_date
        if ref is None:
            raise TransformError(ctx.column, self.name, "needs a reference_date (in the policy or the op params)")
        return {"reference_date": ref.isoformat()}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        # Typed date columns pass through; text is parsed element by element (the raw schema types declared
        # dates, so this is the fallback for plugins and direct use).
        born = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = born.isna() & values.notna()
        if bad.any():
            raise TransformError(ctx.column, self.name, "values are not dates", n_rows=int(bad.sum()))
        ref = pd.Timestamp(plan["reference_date"])
        future = born > ref
        if future.any():
            raise TransformError(ctx.column, self.name, "dates lie after the reference date",
                                 n_rows=int(future.sum()))
        years = ref.year - born.dt.year
        # Not yet had this year's birthday at the reference date: one year younger.
        before_birthday = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
        ages = years - before_birthday.astype("Int64")
        return ages.astype("Int64").rename(values.name)
