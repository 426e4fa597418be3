"""``band``: numeric values into intervals with explicit edges (the source notebook's weight, height, drinks bands).

Unlike ``pandas.cut`` with its defaults, no value silently becomes NaN: the lowest edge is included unless the
policy says otherwise, and a value outside the edges is an error or an explicit label the policy names.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import field_validator, model_validator

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op


def _fmt(x: float) -> str:
    return f"{x:g}"


class BandParams(OpParams):
    edges: list[float]
    labels: list[str] | None = None
    #: ``right``: intervals (a, b]; ``left``: [a, b).
    closed: Literal["right", "left"] = "right"
    #: Whether the outermost closed-off edge (lowest for ``right``, highest for ``left``) belongs to the
    #: first (last) band. Default True: the source notebook lost its 0-drink rows to NaN without it.
    include_lowest: bool = True
    #: ``None``: a value outside the edges is an error; otherwise the label such values get.
    out_of_range_label: str | None = None
    #: Label for missing input values (the raw schema decides whether a column may have any).
    missing_label: str = "missing"

    @field_validator("edges")
    @classmethod
    def _increasing(cls, edges: list[float]) -> list[float]:
        if len(edges) < 2:
            raise ValueError("needs at least two edges")
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError("edges must be strictly increasing")
        return edges

    @model_validator(mode="after")
    def _label_count(self) -> "BandParams":
        if self.labels is not None and len(self.labels) != len(self.edges) - 1:
            raise ValueError(f"{len(self.edges)} edges make {len(self.edges) - 1} bands, "
                             f"but {len(self.labels)} labels were given")
        return self


@register_op("band")
class Band(ColumnOp):
    Params = BandParams
    value_wise = True
    fit_needs = FitNeeds.NOTHING
    params: BandParams

    def band_labels(self) -> list[str]:
        p = self.params
        if p.labels is not None:
            return list(p.labels)
        e = p.edges
        out = []
        for i, (a, b) in enumerate(zip(e, e[1:])):
            if p.closed == "right":
                lo = "[" if (i == 0 and p.include_lowest) else "("
                out.append(f"{lo}{_fmt(a)}, {_fmt(b)}]")
            else:
                hi = "]" if (i == len(e) - 2 and p.include_lowest) else ")"
                out.append(f"[{_fmt(a)}, {_fmt(b)}{hi}")
        return out

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        return {"labels": self.band_labels()}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        numeric = pd.to_numeric(values, errors="coerce")
        not_numeric = numeric.isna() & values.notna()
        if not_numeric.any():
            raise TransformError(ctx.column, self.name, "values are not numeric", n_rows=int(not_numeric.sum()))
        x = numeric.to_numpy(dtype=float, na_value=np.nan)
        edges = np.asarray(p.edges, dtype=float)
        # searchsorted side picks which edge an equal value belongs to: right-closed (a, b] puts x == b in
        # the band ending at b.
        side: Literal["left", "right"] = "left" if p.closed == "right" else "right"
        idx = np.searchsorted(edges, x, side=side) - 1
        if p.include_lowest:
            if p.closed == "right":
                idx[x == edges[0]] = 0
            else:
                idx[x == edges[-1]] = len(edges) - 2
        missing = np.isnan(x)
        outside = ~missing & ((idx < 0) | (idx >= len(edges) - 1))
        if outside.any() and p.out_of_range_label is None:
            raise TransformError(ctx.column, self.name,
                                 f"values fall outside the edges [{_fmt(edges[0])}, {_fmt(edges[-1])}]; widen "
                                 "the edges or set out_of_range_label", n_rows=int(outside.sum()))
        labels = np.array(plan["labels"] + [p.out_of_range_label or "", p.missing_label], dtype=object)
        idx = np.where(outside, len(edges) - 1, idx)
        idx = np.where(missing, len(edges), idx)
        return pd.Series(labels[idx], index=values.index, dtype="str", name=values.name)
