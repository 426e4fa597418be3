"""The synthesis templates as registered ops, usable from policies.

Group ops (``groups:``): ``discrete_synthesis``, ``kde_synthesis``, and ``grouped_synthesis`` (splits a
group into dependent subgroups, automatically or as listed, and picks the template per subgroup).
Column ops (``columns:``): ``rare_value_merge``, ``datetime_partition``, ``gaussian_noise``.

Plans hold no raw rows: a synthesis plan records the seed, sizes and bandwidths, and ``apply`` resamples the
frame it is given (replaying a frozen plan on a new batch synthesises that batch with the frozen
bandwidths). Every random op draws its seed from ``ctx.rng()`` in ``fit`` and records it in the plan, so
``apply`` is reproducible from the plan alone. With ``rows`` set, a group op returns that many rows on a
fresh RangeIndex and says so in its plan (``row_count_changes``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from anon_pipeline.errors import TransformError
from anon_pipeline.stats.floats import as_float, from_float
from anon_pipeline.stats.kde import population_sigma
from anon_pipeline.synthesis.continuous import KdeFit, fit_kde, synthesize_continuous
from anon_pipeline.synthesis.discrete import sample_discrete, sampling_pool
from anon_pipeline.synthesis.grouping import Grouping, auto_groups, explicit_groups
from anon_pipeline.synthesis.noise import add_noise
from anon_pipeline.synthesis.partition import NamedPartition, cut, named_partition
from anon_pipeline.synthesis.rare import apply_rare_merge, fit_rare_merge
from anon_pipeline.transforms.registry import ColumnOp, FitContext, OpParams, TableOp, register_op
from anon_pipeline.utility.report import is_continuous


def _seed(ctx: FitContext) -> int:
    return int(ctx.rng().integers(0, 2**63 - 1))


def _size_plan(frame: pd.DataFrame, rows: int | None) -> dict[str, Any]:
    n = len(frame) if rows is None else rows
    return {"input_rows": len(frame), "output_rows": n, "row_count_changes": n != len(frame)}


def _index(frame: pd.DataFrame, plan: dict[str, Any]) -> pd.Index:
    return pd.RangeIndex(plan["output_rows"]) if plan["row_count_changes"] else frame.index


class SynthesisParams(OpParams):
    #: Output rows (default: as many as the input).
    rows: int | None = Field(None, ge=1)


@register_op("discrete_synthesis")
class DiscreteSynthesis(TableOp):
    """Template 1: each output tuple drawn i.i.d. from the group's distinct tuples with their frequencies."""

    class Params(SynthesisParams):
        #: Leave tuples occurring fewer times than this out of the sampling distribution.
        min_count: int = Field(1, ge=1)

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        pool = sampling_pool(frame, self.params.min_count)
        if len(pool.rows) == 0:
            raise TransformError(ctx.column, self.name, f"no tuple occurs at least {self.params.min_count} times",
                                 n_rows=len(frame))
        return {"seed": _seed(ctx), "policy_seed": ctx.seed, **_size_plan(frame, self.params.rows),
                "min_count": self.params.min_count, "distinct_tuples": pool.n_tuples,
                "excluded_tuples": pool.excluded_tuples, "excluded_rows": pool.excluded_rows}

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        rng = np.random.default_rng(plan["seed"])
        return sample_discrete(frame, plan["output_rows"], rng, min_count=plan["min_count"],
                               index=_index(frame, plan))


@register_op("kde_synthesis")
class KdeSynthesis(TableOp):
    """Template 2: Gaussian KDE with Silverman's diagonal bandwidth; one shared source row per output row."""

    class Params(SynthesisParams):
        clip: bool = False               # clip to the observed range of each column
        round_integers: bool = False     # round integer columns back to integers
        #: Columns of the group copied from the shared source row instead of smoothed (a mixed group).
        discrete: list[str] = Field(default_factory=list)
        #: Leave source rows whose tuple of ``discrete`` columns occurs fewer times than this out of the draw.
        min_count: int = Field(1, ge=1)

    def _continuous(self, frame: pd.DataFrame, ctx: FitContext) -> list[str]:
        missing = [c for c in self.params.discrete if c not in frame.columns]
        if missing:
            raise TransformError(ctx.column, self.name, f"discrete column(s) {missing} are not in the group")
        cols = [c for c in frame.columns if c not in self.params.discrete]
        for c in cols:
            try:
                as_float(frame[c].iloc[:0])
            except TypeError:
                raise TransformError(c, self.name, "needs a numeric or datetime column; list it under "
                                     "'discrete' to copy it from the source row") from None
        if not cols:
            raise TransformError(ctx.column, self.name, "no continuous column in the group")
        return cols

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        fit = fit_kde(frame, self._continuous(frame, ctx))
        pool = sampling_pool(frame[self.params.discrete], self.params.min_count)
        if len(pool.rows) == 0:
            raise TransformError(ctx.column, self.name, f"no discrete tuple occurs at least {self.params.min_count} "
                                 "times", n_rows=len(frame))
        return {"seed": _seed(ctx), "policy_seed": ctx.seed, **_size_plan(frame, self.params.rows),
                "kde": fit.as_dict(), "clip": self.params.clip, "round_integers": self.params.round_integers,
                "discrete": list(self.params.discrete), "min_count": self.params.min_count,
                "excluded_tuples": pool.excluded_tuples, "excluded_rows": pool.excluded_rows}

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        kde = plan["kde"]
        fit = KdeFit(columns=kde["columns"], bandwidth=kde["bandwidth"], sigma=kde["sigma"], n=kde["n"])
        rng = np.random.default_rng(plan["seed"])
        source = sampling_pool(frame[plan["discrete"]], plan["min_count"]).rows if plan["min_count"] > 1 else None
        try:
            return synthesize_continuous(frame, fit, plan["output_rows"], rng, discrete=plan["discrete"],
                                         clip=plan["clip"], round_integers=plan["round_integers"],
                                         index=_index(frame, plan), source=source)
        except TypeError:
            raise TransformError(ctx.column, self.name, "a smoothed column is not numeric or datetime") from None


@register_op("rare_value_merge")
class RareValueMerge(ColumnOp):
    """Template 3: values covering fewer than T/n % of rows merge into one neutral value."""

    class Params(OpParams):
        level: float = Field(10.0, gt=0, le=100)     # T, in %
        neutral: str = "undefined"

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        return {"level": self.params.level, "neutral": self.params.neutral,
                **fit_rare_merge(values, self.params.level).as_dict()}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        return apply_rare_merge(values, plan["keep"], plan["neutral"])


@register_op("datetime_partition")
class DatetimePartition(ColumnOp):
    """Template 4: a date/time (or an age) becomes an interval label from a named partition or custom edges."""

    class Params(OpParams):
        partition: NamedPartition | None = None
        #: Custom edges (numbers, or ISO dates/times for a datetime column); intervals are [e_i, e_i+1).
        edges: list[float | str] | None = None
        labels: list[str] | None = None
        open_ends: bool = True

        @model_validator(mode="after")
        def _one_kind(self) -> "DatetimePartition.Params":
            if (self.partition is None) == (self.edges is None):
                raise ValueError("give exactly one of 'partition' (a named partition) or 'edges'")
            if self.labels is not None and self.edges is None:
                raise ValueError("'labels' go with custom 'edges'")
            return self

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        return {"partition": self.params.partition, "edges": self.params.edges,
                "reference_date": ctx.reference_date.isoformat() if ctx.reference_date else None}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        try:
            if plan["partition"] is not None:
                return named_partition(values, plan["partition"], reference=ctx.reference_date)
            return cut(values, plan["edges"], open_ends=self.params.open_ends, labels=self.params.labels)
        except (ValueError, TypeError) as exc:
            raise TransformError(ctx.column, self.name, str(exc), n_rows=len(values)) from None


@register_op("gaussian_noise")
class GaussianNoise(ColumnOp):
    """Noise addition, the baseline: value + scale * sigma * N(0, 1), sigma the column's population sigma."""

    class Params(OpParams):
        scale: float = Field(0.1, ge=0)       # fraction of sigma
        clip: bool = False
        round_integers: bool = False

    def _floats(self, values: pd.Series, ctx: FitContext) -> np.ndarray:
        try:
            return as_float(values)
        except TypeError:
            raise TransformError(ctx.column, self.name, "needs a numeric or datetime column") from None

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        x = self._floats(values, ctx)
        return {"seed": _seed(ctx), "policy_seed": ctx.seed, "scale": self.params.scale,
                "sigma": float(population_sigma(x[:, None])[0]) if len(x) else 0.0}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        x = self._floats(values, ctx)
        noisy = add_noise(x, plan["sigma"], plan["scale"], np.random.default_rng(plan["seed"]))
        if self.params.clip and len(x):
            noisy = np.clip(noisy, np.nanmin(x), np.nanmax(x))
        return from_float(noisy, values, values.index, rounded=self.params.round_integers)


@register_op("grouped_synthesis")
class GroupedSynthesis(TableOp):
    """Splits a policy group into dependent subgroups (automatically, by association above a threshold, or as
    listed) and synthesises each independently: template 1 for an all-discrete subgroup, template 2 (with the
    discrete members copied from the shared source row) otherwise. The plan records the subgroups and the
    associations that linked them."""

    class Params(SynthesisParams):
        grouping: Literal["auto", "explicit", "single"] = "auto"
        threshold: float = Field(0.3, ge=0, le=1)
        #: With grouping: explicit, the subgroups (columns left out become singletons).
        subgroups: list[list[str]] = Field(default_factory=list)
        #: Columns smoothed by the kernel (default: the group's float and datetime columns).
        continuous: list[str] | None = None
        min_count: int = Field(1, ge=1)
        clip: bool = False
        round_integers: bool = False

    def _subops(self, frame: pd.DataFrame, ctx: FitContext) -> tuple[Grouping, list[tuple[list[str], TableOp]]]:
        cols = list(frame.columns)
        p = self.params
        if p.grouping == "auto":
            grouping = auto_groups(frame, cols, p.threshold)
        else:
            try:
                grouping = explicit_groups(cols, p.subgroups if p.grouping == "explicit" else [cols])
            except ValueError as exc:
                raise TransformError(ctx.column, self.name, str(exc)) from None
        cont = set(p.continuous) if p.continuous is not None else {c for c in cols if is_continuous(frame[c])}
        ops: list[tuple[list[str], TableOp]] = []
        for group in grouping.groups:
            smooth = [c for c in group if c in cont]
            if smooth:
                op: TableOp = KdeSynthesis(KdeSynthesis.Params(
                    rows=p.rows, clip=p.clip, round_integers=p.round_integers, min_count=p.min_count,
                    discrete=[c for c in group if c not in cont]))
            else:
                op = DiscreteSynthesis(DiscreteSynthesis.Params(rows=p.rows, min_count=p.min_count))
            ops.append((group, op))
        return grouping, ops

    @staticmethod
    def _sub_ctx(ctx: FitContext, i: int) -> FitContext:
        return FitContext(column=f"{ctx.column}/{i}", seed=ctx.seed, reference_date=ctx.reference_date,
                          base_dir=ctx.base_dir, step=ctx.step)

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        grouping, ops = self._subops(frame, ctx)
        subplans = [{"columns": cols, "op": op.name, "plan": op.fit(frame[cols], self._sub_ctx(ctx, i))}
                    for i, (cols, op) in enumerate(ops)]
        return {"policy_seed": ctx.seed, **_size_plan(frame, self.params.rows), "grouping": grouping.as_dict(),
                "subgroups": subplans}

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        parts = []
        for i, sub in enumerate(plan["subgroups"]):
            # Both sub-ops apply from their plan alone, so default params rebuild them.
            op_cls = DiscreteSynthesis if sub["op"] == DiscreteSynthesis.name else KdeSynthesis
            parts.append(op_cls(op_cls.Params()).apply(frame[sub["columns"]], sub["plan"], self._sub_ctx(ctx, i)))
        return pd.concat(parts, axis=1)[list(frame.columns)]
