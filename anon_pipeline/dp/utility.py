"""Utility against epsilon of a policy's DP synthesis, for the data holder's utility report (never released).

For each ``dp_mst_synthesis`` step that starts its group, the error of the release at its own epsilon is
measured, and the step is fitted and drawn again on the same input at epsilon 0.3, 1, 3 and 10 to show what
another epsilon would give. The error of a draw is the total-variation distance between the input's and the
draw's marginals, every 1-way and every 2-way one, in the step's own public domain (its bins): mean and max.

These figures are of the exact input, like every before-side figure: they stay in the private reports folder
(``reports.dp_release`` leaves them out of a DP release), the extra draws are neither kept nor released, and so
spend nothing from the ledger. An epsilon chosen by looking at them is itself a (small, uncounted) look at the
data: prefer choosing it on public or earlier data.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.dp.mst import _marginal
from anon_pipeline.dp.ops import DPMSTSynthesis
from anon_pipeline.transforms.registry import FitContext, get_op

EPSILONS = (0.3, 1.0, 3.0, 10.0)


def marginal_errors(op: DPMSTSynthesis, real: pd.DataFrame, synthetic: pd.DataFrame,
                    ctx: FitContext) -> dict[str, float]:
    """Mean and max total-variation distance over every 1-way and 2-way marginal, in ``op``'s domain."""
    columns = list(op.params.columns)
    a, b = op._encode(real[columns], ctx), op._encode(synthetic[columns], ctx)
    sizes = [op.params.columns[c].size for c in columns]
    out: dict[str, float] = {}
    for k in (1, 2):
        tv = [0.5 * float(np.abs(_marginal(a, cols, sizes) / max(len(a), 1)
                                 - _marginal(b, cols, sizes) / max(len(b), 1)).sum())
              for cols in combinations(range(len(columns)), k)]
        if tv:
            out[f"tv{k}_mean"], out[f"tv{k}_max"] = round(float(np.mean(tv)), 4), round(max(tv), 4)
    return out


def epsilon_curve(op: DPMSTSynthesis, frame: pd.DataFrame, ctx: FitContext,
                  epsilons: tuple[float, ...] = EPSILONS) -> list[dict[str, Any]]:
    """The marginal errors of one fresh fit and draw of ``op`` on ``frame`` per epsilon (same delta, domains,
    rows and refine)."""
    points = []
    for eps in epsilons:
        other = type(op)(op.params.model_copy(update={"epsilon": eps}))
        draw = other.apply(frame, other.fit(frame, ctx), ctx)
        points.append({"epsilon": eps, **marginal_errors(op, frame, draw, ctx)})
    return points


def dp_utility(before: pd.DataFrame, anonymised: pd.DataFrame, policy) -> dict[str, Any]:
    """Per DP synthesis step (``"<group>[0] dp_mst_synthesis"``): its epsilon, the released table's marginal
    errors, and the curve over ``EPSILONS``. ``before``: the table the groups start from (input names);
    ``anonymised``: the release (output names)."""
    out: dict[str, Any] = {}
    for group in policy.groups:
        op_cls = get_op(group.steps[0].op) if group.steps else None
        if op_cls is None or not issubclass(op_cls, DPMSTSynthesis):
            continue
        step = group.steps[0]
        op = op_cls(op_cls.Params.model_validate(step.params))
        ctx = FitContext(column=group.name, seed=policy.seed)
        frame = before[list(group.columns)]
        released = anonymised.rename(columns={policy.output_name(c): c for c in group.columns})
        out[f"{group.name}[0] {step.op}"] = {
            "epsilon": op.params.epsilon, "released": marginal_errors(op, frame, released, ctx),
            "curve": epsilon_curve(op, frame, ctx)}
    return out
