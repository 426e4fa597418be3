"""``dp_mst_synthesis``: a fully synthetic, (epsilon, delta)-differentially private group (MST, ``dp.mst``).

Every column's domain is public and declared in the params, never read from the data (the set of values or the
range seen in the data would leak): ``values`` for a categorical column, ``bounds`` (with ``bins``) or ``edges``
for a numeric one (values outside are clipped into the end bins). The plan holds the noisy model, the sampling
seed and the spend (``dp``: mechanism, epsilon, delta, rho), which the pipeline charges to the dataset's ledger
before anything is written. Measurement noise comes from OpenDP's CSPRNG, not the policy seed; ``apply`` draws
from the plan alone, so replaying a plan spends nothing and gives the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from anon_pipeline.dp.accounting import Spend, cdp_rho
from anon_pipeline.dp.mst import fit_mst, sample_mst
from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.registry import FitContext, OpParams, TableOp, register_op


class ColumnDomain(OpParams):
    values: list[Any] | None = None
    bounds: tuple[float, float] | None = None
    bins: int = Field(10, ge=1)
    edges: list[float] | None = Field(None, min_length=2)
    #: Draw whole numbers within a bin (default: when the input column has an integer dtype).
    integer: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "ColumnDomain":
        if sum(x is not None for x in (self.values, self.bounds, self.edges)) != 1:
            raise ValueError("give exactly one of 'values' (categories), 'bounds' (with 'bins') or 'edges'")
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise ValueError("'bounds' must be [low, high] with low < high")
        if self.edges is not None and list(self.edges) != sorted(set(self.edges)):
            raise ValueError("'edges' must increase strictly")
        if self.values is not None and len(set(map(str, self.values))) != len(self.values):
            raise ValueError("'values' must be distinct")
        return self

    def bin_edges(self) -> np.ndarray:
        if self.edges is not None:
            return np.asarray(self.edges, dtype=float)
        if self.bounds is None:
            raise ValueError("a domain of 'values' (categories) has no bin edges")
        return np.linspace(self.bounds[0], self.bounds[1], self.bins + 1)

    @property
    def size(self) -> int:
        return len(self.values) if self.values is not None else len(self.bin_edges()) - 1


@register_op("dp_mst_synthesis")
class DPMSTSynthesis(TableOp):
    """MST: noisy 1-way marginals, a privately chosen maximum spanning tree of 2-way marginals, noisy 2-way
    marginals, a consistent tree model, rows drawn from it. Every kept column of the policy must be in it (or in
    another group of the same ``rows``): there is no real row to attach another column to."""

    draws_by_position = True

    class Params(OpParams):
        epsilon: float = Field(gt=0)
        delta: float = Field(1e-9, gt=0, lt=1)
        #: The public domain of every column of the group.
        columns: dict[str, ColumnDomain]
        #: Output rows (default: the model's noisy estimate of the input's row count).
        rows: int | None = Field(None, ge=1)
        #: Give columns a second parent (AIM-style selection of 3-way marginals; 2/5 of the budget).
        refine: bool = False

    params: Params

    def _encode(self, frame: pd.DataFrame, ctx: FitContext) -> np.ndarray:
        declared = self.params.columns
        if set(declared) != set(frame.columns):
            raise TransformError(ctx.column, self.name, _undeclared(list(frame.columns), declared))
        codes = []
        for col in frame.columns:
            dom, values = declared[col], frame[col]
            if dom.values is not None:
                index = {v: i for i, v in enumerate(dom.values)}
                coded = values.map(lambda v: index.get(v, -1)).to_numpy(dtype=np.int64)
                bad = int((coded < 0).sum())
                if bad:
                    raise TransformError(col, self.name, "value(s) missing or not among the declared 'values'",
                                         n_rows=bad)
            else:
                x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
                if np.isnan(x).any():
                    raise TransformError(col, self.name, "missing or non-numeric value(s)",
                                         n_rows=int(np.isnan(x).sum()))
                coded = np.clip(np.searchsorted(dom.bin_edges(), x, side="right") - 1, 0, dom.size - 1)
            codes.append(coded)
        return np.column_stack(codes)

    def check_at_load(self, columns: list[str], base_dir: Path) -> None:
        declared = self.params.columns
        if set(declared) != set(columns):
            raise ValueError(_undeclared(columns, declared))

    def draws_new_rows(self) -> bool:
        return True

    def dp_spend(self) -> Spend:
        return Spend(self.params.epsilon, self.params.delta, cdp_rho(self.params.epsilon, self.params.delta), "mst")

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        p = self.params
        codes = self._encode(frame, ctx)
        spend = self.dp_spend()
        rho = spend.rho
        assert rho is not None  # MST is zCDP: its spend has a rho
        model = fit_mst(codes, [p.columns[c].size for c in frame.columns], rho, refine=p.refine)
        integer = {c: (p.columns[c].integer if p.columns[c].integer is not None
                       else pd.api.types.is_integer_dtype(frame[c].dtype)) for c in frame.columns}
        rows = p.rows if p.rows is not None else max(1, round(model["n_hat"]))
        # No exact statistic of the input belongs here (not even its row count): only noisy ones.
        return {"seed": int(ctx.rng().integers(0, 2**63 - 1)), "policy_seed": ctx.seed, "output_rows": rows,
                "row_count_changes": True, "columns": list(frame.columns), "integer": integer,
                "dp": {"mechanism": spend.mechanism, "epsilon": spend.epsilon, "delta": spend.delta, "rho": rho,
                       "neighbouring": "add or remove one row"},
                "tree": [[frame.columns[a], frame.columns[b]] for a, b in model["edges"]], "model": model}

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        rng = np.random.default_rng(plan["seed"])
        n = plan["output_rows"]
        codes = sample_mst(plan["model"], n, rng)
        out = {}
        for j, col in enumerate(plan["columns"]):
            dom = self.params.columns[col]
            if dom.values is not None:
                out[col] = pd.Series(np.asarray(dom.values, dtype=object)[codes[:, j]]).infer_objects()
                continue
            edges = dom.bin_edges()
            x = edges[codes[:, j]] + rng.random(n) * np.diff(edges)[codes[:, j]]
            out[col] = (pd.Series(np.floor(x).astype(np.int64)) if plan["integer"][col] else pd.Series(x))
        return pd.DataFrame(out, index=pd.RangeIndex(n))


def _undeclared(columns: list[str], declared: dict[str, ColumnDomain]) -> str:
    wrong = {"undeclared": sorted(set(columns) - set(declared)), "not in the group": sorted(set(declared) - set(columns))}
    return "'columns' must declare the domain of exactly the group's columns; " + ", ".join(
        f"{what}: {names}" for what, names in wrong.items() if names)
