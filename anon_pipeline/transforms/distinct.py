"""Running a value-wise column op on the distinct values of a column and mapping the results back to the rows.

An op whose output for a row depends only on that row's value (a look-up, a regex, a band) sets
``ColumnOp.value_wise``; its cost then follows the number of distinct values (a few thousand postcodes) rather
than the number of rows (millions). The result is the same as applying the op to every row.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.op_errors import op_errors
from anon_pipeline.transforms.registry import ColumnOp, FitContext, TableOp


def apply_op(op: ColumnOp | TableOp, data: pd.Series | pd.DataFrame, plan: dict[str, Any],
             ctx: FitContext) -> pd.Series | pd.DataFrame:
    """``op.apply``, computed once per distinct value when the op is value-wise; a plugin op's unexpected error
    names the op and the column (``op_errors``)."""
    with op_errors(op, ctx.column, "apply"):
        return _applied(op, data, plan, ctx)


def _applied(op: ColumnOp | TableOp, data: pd.Series | pd.DataFrame, plan: dict[str, Any],
             ctx: FitContext) -> pd.Series | pd.DataFrame:
    if not (isinstance(op, ColumnOp) and op.value_wise):
        return op.apply(data, plan, ctx)
    # Missing values are kept as a distinct value of their own: ops give them a label.
    codes, distinct = pd.factorize(data, use_na_sentinel=False)
    try:
        mapped = op.apply(pd.Series(distinct, name=data.name), plan, ctx)
    except TransformError:
        # Again on every row, so the error counts rows, not distinct values.
        return op.apply(data, plan, ctx)
    return pd.Series(mapped.array.take(codes), index=data.index, name=mapped.name)
