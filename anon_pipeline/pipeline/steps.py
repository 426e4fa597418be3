"""Running a chain of ops: fit each step on the output of the one before, apply it, collect plans and key tables."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import pandas as pd

from anon_pipeline.policy.load import BoundStep
from anon_pipeline.policy.model import Policy
from anon_pipeline.transforms.distinct import apply_op
from anon_pipeline.transforms.op_errors import op_errors
from anon_pipeline.transforms.registry import FitContext

Data = TypeVar("Data", pd.Series, pd.DataFrame)


def context(policy: Policy, column: str, step: int, suppress: bool = True) -> FitContext:
    return FitContext(column=column, seed=policy.seed, reference_date=policy.reference_date,
                      base_dir=policy.base_dir, step=step, suppress=suppress)


def run_steps(data: Data, steps: list[BoundStep], policy: Policy, name: str,
              plans: list[dict[str, Any]] | None = None,
              suppress: bool = True, row_ids: pd.Series | None = None
              ) -> tuple[Data, list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Fit (unless ``plans`` are given: replay) and apply every step of a column (Series) or a group (DataFrame).

    Returns (output, plans, key tables). ``name`` is the column or group name the ops see in their context;
    ``row_ids`` the rows' GUIDs (indexed like ``data``), for ops that draw per row.
    """
    out_plans: list[dict[str, Any]] = []
    keys: dict[str, pd.DataFrame] = {}
    for i, bound in enumerate(steps):
        ctx = replace(context(policy, name, i, suppress), row_ids=row_ids)
        if plans is not None:
            plan = plans[i]["plan"]
        else:
            with op_errors(bound.op, name, "fit"):
                plan = bound.op.fit(data, ctx)
        data = apply_op(bound.op, data, plan, ctx)
        out_plans.append({"op": bound.op_name, "plan": plan})
        keys.update(bound.op.key_tables(plan, ctx))
    return data, out_plans, keys
