"""What an op does with input values its mapping does not cover: an error with a count, or a named label."""

from __future__ import annotations

import pandas as pd

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.registry import FitContext


def fill_unmatched(mapped: pd.Series, original: pd.Series, ctx: FitContext, op: str, *,
                   label: str | None, what: str, missing_label: str | None = None) -> pd.Series:
    """Missing inputs get ``missing_label`` (or stay missing); unmatched ones get ``label`` or raise.

    The error gives the count of rows and of distinct values, never the values: they are quasi-identifiers.
    """
    unmatched = mapped.isna() & original.notna()
    if unmatched.any():
        if label is None:
            raise TransformError(ctx.column, op, f"{original[unmatched].nunique()} distinct value(s) {what}; "
                                 "extend the mapping or set unknown_label", n_rows=int(unmatched.sum()))
        mapped = mapped.where(~unmatched, label)
    if missing_label is not None:
        mapped = mapped.where(original.notna(), missing_label)
    return mapped.astype("str").where(mapped.notna())
