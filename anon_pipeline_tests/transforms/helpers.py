"""Run one op on a Series the way the pipeline does (validate params, fit, apply)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from anon_pipeline.transforms import FitContext, get_op


def run_op(name: str, values, *, ref_date: date | None = None, base_dir: Path | None = None, **params):
    op_cls = get_op(name)
    op = op_cls(op_cls.Params.model_validate(params))
    ctx = FitContext(column="col", seed=1, reference_date=ref_date, base_dir=base_dir or Path.cwd())
    series = values if isinstance(values, pd.Series) else pd.Series(values, name="col")
    plan = op.fit(series, ctx)
    return op.apply(series, plan, ctx), plan, op.key_tables(plan, ctx)
