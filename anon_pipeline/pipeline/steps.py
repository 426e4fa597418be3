"""Running a chain of ops: fit each step on the output of the one before, apply it, collect plans and key tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from anon_pipeline.policy.load import BoundStep
from anon_pipeline.policy.model import Policy
from anon_pipeline.transforms.registry import ColumnOp, FitContext, TableOp


def context(policy: Policy, column: str, step: int) -> FitContext:
    return FitContext(column=column, seed=policy.seed, reference_date=policy.reference_date,
                      base_dir=policy.base_dir, step=step)


def run_column_steps(values: pd.Series, steps: list[BoundStep], policy: Policy, column: str,
                     plans: list[dict[str, Any]] | None = None
                     ) -> tuple[pd.Series, list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Fit (unless ``plans`` are given: replay) and apply every step; returns (values, plans, key tables)."""
    out_plans: list[dict[str, Any]] = []
    keys: dict[str, pd.DataFrame] = {}
    for i, bound in enumerate(steps):
        op = bound.op
        assert isinstance(op, ColumnOp)
        ctx = context(policy, column, i)
        plan = plans[i]["plan"] if plans is not None else op.fit(values, ctx)
        values = op.apply(values, plan, ctx)
        out_plans.append({"op": bound.op_name, "plan": plan})
        keys.update(op.key_tables(plan, ctx))
    return values, out_plans, keys


def run_group_steps(frame: pd.DataFrame, steps: list[BoundStep], policy: Policy, group: str,
                    plans: list[dict[str, Any]] | None = None
                    ) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, pd.DataFrame]]:
    out_plans: list[dict[str, Any]] = []
    keys: dict[str, pd.DataFrame] = {}
    for i, bound in enumerate(steps):
        op = bound.op
        assert isinstance(op, TableOp)
        ctx = context(policy, group, i)
        plan = plans[i]["plan"] if plans is not None else op.fit(frame, ctx)
        frame = op.apply(frame, plan, ctx)
        out_plans.append({"op": bound.op_name, "plan": plan})
        keys.update(op.key_tables(plan, ctx))
    return frame, out_plans, keys
