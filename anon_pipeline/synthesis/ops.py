"""The synthesis methods as registered ops, usable from policies.

Group ops (``groups:``): ``discrete_synthesis``, ``kde_synthesis``, ``grouped_synthesis`` (splits a
group into dependent subgroups, automatically or as listed, and picks the method per subgroup) and
``cart_synthesis`` (sequential CART). Column ops (``columns:``): ``rare_value_merge``, ``datetime_partition``,
``gaussian_noise``.

Plans hold no raw rows: a synthesis plan records the seed, sizes, bandwidths and the count of released rows
that copy a unique training row, and ``apply`` resamples the frame it is given (replaying a frozen plan on a new
batch synthesises that batch with the frozen bandwidths, or refits the CART trees on it). Every random op draws
its seed from ``ctx.rng()`` in ``fit`` and records it in the plan, so ``apply`` is reproducible from the plan
alone. With ``rows`` set, a group op returns that many rows on a fresh RangeIndex and says so in its plan
(``row_count_changes``).

On the streaming and Dask engines: ``gaussian_noise`` is fitted from the column's moments and draws each row's
noise from the plan seed and the row's GUID (the same release whatever the batches); ``kde_synthesis`` is fitted
from the moments of its continuous columns (Silverman's bandwidths, clip ranges) and ``discrete_synthesis`` from
the counts of the group's distinct rows, and both draw per batch: each GUID bucket (a random sample of the table)
draws as many rows as it holds from its own rows, with the frozen plan and a seed from the plan seed and the
bucket's rows. With ``rows``, ``refuse_unique_copies`` or ``min_count`` > 1 they need every row (what is unique or
rare is known only over the whole table), as ``cart_synthesis`` and ``grouped_synthesis`` always do.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from anon_pipeline.errors import TransformError
from anon_pipeline.metrics.k_anonymity import encode_codes
from anon_pipeline.stats.floats import as_float, from_float
from anon_pipeline.stats.hashing import hash_rows, mix64
from anon_pipeline.stats.moments import Moments
from anon_pipeline.synthesis.cart import CartSynthesizer
from anon_pipeline.synthesis.continuous import (INTEGER_CATEGORIES, KdeFit, is_smoothed, kde_of_moments,
                                                synthesize_continuous)
from anon_pipeline.synthesis.discrete import sample_discrete, sampling_pool
from anon_pipeline.synthesis.grouping import Grouping, auto_groups, explicit_groups
from anon_pipeline.synthesis.noise import add_noise, row_normals
from anon_pipeline.synthesis.partition import NamedPartition, cut, named_partition
from anon_pipeline.synthesis.privacy import draw_refusing_unique_copies
from anon_pipeline.synthesis.rare import apply_rare_merge, fit_rare_merge
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, TableOp, register_op


def _seed(ctx: FitContext) -> int:
    return int(ctx.rng().integers(0, 2**63 - 1))


def _size_plan(input_rows: int, rows: int | None) -> dict[str, Any]:
    n = input_rows if rows is None else rows
    return {"input_rows": input_rows, "output_rows": n, "row_count_changes": n != input_rows}


def _moments(data: pd.Series | pd.DataFrame, columns: list[str] | None, ctx: FitContext) -> Moments:
    """The moments the engine gathered (``FitNeeds.MOMENTS``), else those of the rows given."""
    if ctx.moments is not None:
        return ctx.moments if columns is None else ctx.moments.select(columns)
    return Moments.of_frame(data, columns)


def _guids(ctx: FitContext, index: pd.Index) -> pd.Series | None:
    if ctx.row_ids is None:
        return None
    return ctx.row_ids if ctx.row_ids.index.equals(index) else ctx.row_ids.loc[index]


def _batch_seed(seed: int, frame: pd.DataFrame) -> list[int]:
    """The seed of one batch's draws: the plan seed and the batch's rows (a hash of their values, in any order).
    A bucket draws the same rows wherever the plan is applied to it (streaming or Dask), two buckets draw
    independently, and one input in one batch draws the same rows run after run (GUIDs, fresh in every run,
    would not)."""
    with np.errstate(over="ignore"):
        return [seed, int(np.sum(mix64(hash_rows(frame)), dtype=np.uint64))]


def _index(frame: pd.DataFrame, plan: dict[str, Any]) -> pd.Index:
    return pd.RangeIndex(plan["output_rows"]) if plan["row_count_changes"] else frame.index


class SynthesisParams(OpParams):
    #: Output rows (default: as many as the input).
    rows: int | None = Field(None, ge=1)
    #: Re-draw output rows equal (on every column of the group) to a training row that is unique there.
    refuse_unique_copies: bool = False


Sampler = Callable[[int], pd.DataFrame]


class Synthesiser(TableOp):
    """A synthesis op: ``_settings`` is the plan without the draw, ``_sampler`` returns a function that draws m
    rows (on a RangeIndex) from ``frame`` with the plan's seeds, each call advancing its generators.

    ``fit`` draws the release once, so the plan can count the copies of unique training rows it holds
    (``unique_copies``), and hands the rows to the ``apply`` on the same frame and plan that follows; ``apply``
    on anything else (a replayed plan) draws again from the plan, with the same seeds.
    """

    draws_by_position = True

    Params = SynthesisParams
    params: SynthesisParams
    _handoff: tuple[Any, dict, pd.DataFrame] | None = None

    def _settings(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        raise NotImplementedError

    def _sampler(self, frame: pd.DataFrame, plan: dict[str, Any]) -> Sampler:
        raise NotImplementedError

    def _draw(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext, count: bool = True
              ) -> tuple[pd.DataFrame, dict]:
        """The rows and, when ``count`` or refusing, the counts of copies of unique training rows."""
        if self.draws_per_batch:
            plan = {**plan, "seed": _batch_seed(plan["seed"], frame)}
        try:
            # Some samplers fit on the batch when built (CART's trees). A library's message may quote a cell
            # value, so only the kind of failure is said.
            sampler = self._sampler(frame, plan)
        except (TypeError, ValueError) as exc:
            raise TransformError(ctx.column, self.name, f"cannot fit on this batch ({type(exc).__name__}): a column "
                                 "it smooths or models is not of the kind the plan expects", n_rows=len(frame)) from None
        n = plan["output_rows"] if plan["row_count_changes"] else len(frame)
        if n == 0:
            return frame.iloc[:0].copy(), {}
        # Plans fitted before refusal existed have neither key: they never refused.
        refuse = plan.get("refuse_unique_copies", False)
        counts: dict[str, Any]
        try:
            if not (count or refuse):  # nothing to count or refuse: the draw alone (no pass over the training rows)
                out, counts = sampler(n).reset_index(drop=True), {}
            else:
                out, counts = draw_refusing_unique_copies(frame, sampler, n,
                                                          np.random.default_rng(plan.get("refusal_seed", 0)),
                                                          refuse=refuse)
        except ValueError as exc:
            raise TransformError(ctx.column, self.name, str(exc), n_rows=len(frame)) from None
        except TypeError:
            raise TransformError(ctx.column, self.name, "a column it smooths is not numeric or datetime") from None
        return out.set_axis(_index(frame, plan), axis=0), counts

    def _input_rows(self, frame: pd.DataFrame, ctx: FitContext) -> int:
        return len(frame)

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        plan = {**self._settings(frame, ctx), **_size_plan(self._input_rows(frame, ctx), self.params.rows),
                "refuse_unique_copies": self.params.refuse_unique_copies, "refusal_seed": _seed(ctx)}
        if self.draws_per_batch:
            plan["draws"] = "per batch"
        if ctx.weights is not None or ctx.moments is not None:
            # Fitted from the engine's aggregates: the rows are drawn batch by batch in apply, so there is no
            # release yet to count copies of unique training rows in.
            return {**plan, "fitted_on": self.fit_needs.value}
        out, plan["unique_copies"] = self._draw(frame, plan, ctx)
        self._handoff = (weakref.ref(frame), plan, out)
        return plan

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        handoff, self._handoff = self._handoff, None
        if handoff is not None and handoff[0]() is frame and handoff[1] is plan:
            return handoff[2]
        return self._draw(frame, plan, ctx, count=False)[0]


class BatchSynthesiser(Synthesiser):
    """A synthesiser that streams: fitted from aggregates (``fit_needs``), it draws batch by batch
    (``draws_per_batch``), unless its params need the whole table (then its fit sees every row, as before)."""

    draws_per_batch = True

    def __init__(self, params: OpParams) -> None:
        super().__init__(params)
        p: Any = self.params  # each subclass's Params: rows and refuse_unique_copies always, min_count on some
        reason = ("rows: an output size other than the input's is drawn from the whole table" if p.rows is not None
                  else "refuse_unique_copies: which training rows are unique is known only over the whole table"
                  if p.refuse_unique_copies
                  else "min_count: which tuples are rare is known only over the whole table"
                  if getattr(p, "min_count", 1) > 1 else None)
        if reason is not None:
            self.fit_needs = FitNeeds.ROWS  # type: ignore[misc]  # per instance on purpose: these params need every row
            self.whole_table_reason = reason


@register_op("discrete_synthesis")
class DiscreteSynthesis(BatchSynthesiser):
    """Discrete synthesis (Borisov et al. 2023): each output tuple drawn i.i.d. from the group's distinct tuples
    with their frequencies. Fitted on the counts of the distinct tuples."""

    fit_needs = FitNeeds.COUNTS

    class Params(SynthesisParams):
        #: Leave tuples occurring fewer times than this out of the sampling distribution.
        min_count: int = Field(1, ge=1)

    params: Params

    def _input_rows(self, frame: pd.DataFrame, ctx: FitContext) -> int:
        return int(ctx.row_weights(len(frame)).sum())

    def _settings(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        codes = encode_codes(frame, list(frame.columns))
        sizes = np.bincount(codes, weights=ctx.row_weights(len(frame)), minlength=int(codes.max(initial=-1)) + 1)
        rare = (sizes > 0) & (sizes < self.params.min_count)
        if not np.any(sizes >= self.params.min_count):
            raise TransformError(ctx.column, self.name, f"no tuple occurs at least {self.params.min_count} times",
                                 n_rows=int(sizes.sum()))
        return {"seed": _seed(ctx), "policy_seed": ctx.seed,
                "min_count": self.params.min_count, "distinct_tuples": int(np.sum(sizes > 0)),
                "excluded_tuples": int(rare.sum()), "excluded_rows": int(sizes[rare].sum())}

    def _sampler(self, frame: pd.DataFrame, plan: dict[str, Any]) -> Sampler:
        rng = np.random.default_rng(plan["seed"])
        return lambda n: sample_discrete(frame, n, rng, min_count=plan["min_count"], index=pd.RangeIndex(n))


@register_op("kde_synthesis")
class KdeSynthesis(BatchSynthesiser):
    """Kernel synthesis (Borisov et al. 2023): Gaussian KDE with Silverman's diagonal bandwidth; one shared source
    row per output row. Fitted on the moments of the continuous columns (sigma, complete rows, range)."""

    fit_needs = FitNeeds.MOMENTS

    class Params(SynthesisParams):
        clip: bool = True                # keep each column inside its observed range (reflected at the bounds)
        round_integers: bool = True      # round integer columns back to integers
        #: Columns of the group copied from the shared source row instead of smoothed (a mixed group).
        discrete: list[str] = Field(default_factory=list)
        #: Leave source rows whose tuple of ``discrete`` columns occurs fewer times than this out of the draw.
        min_count: int = Field(1, ge=1)

    params: Params

    def check_at_load(self, columns: list[str], base_dir: Path) -> None:
        missing = [c for c in self.params.discrete if c not in columns]
        if missing:
            raise ValueError(f"discrete names {missing}, not a column of the group ({', '.join(columns)})")

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

    def moment_columns(self, columns: list[str]) -> list[str]:
        return [c for c in columns if c not in self.params.discrete]

    def _input_rows(self, frame: pd.DataFrame, ctx: FitContext) -> int:
        return int(round(ctx.moments.rows)) if ctx.moments is not None else len(frame)

    def _settings(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        fit = kde_of_moments(_moments(frame, self._continuous(frame, ctx), ctx))
        # With min_count > 1 the fit sees every row; else no tuple is left out, and only an empty input has none.
        n_rows = self._input_rows(frame, ctx)
        pool = sampling_pool(frame[self.params.discrete], self.params.min_count) if self.params.min_count > 1 \
            else None
        if (len(pool.rows) if pool is not None else n_rows) == 0:
            raise TransformError(ctx.column, self.name, f"no discrete tuple occurs at least {self.params.min_count} "
                                 "times", n_rows=n_rows)
        return {"seed": _seed(ctx), "policy_seed": ctx.seed,
                "kde": fit.as_dict(), "clip": self.params.clip, "round_integers": self.params.round_integers,
                "discrete": list(self.params.discrete), "min_count": self.params.min_count,
                "excluded_tuples": pool.excluded_tuples if pool else 0,
                "excluded_rows": pool.excluded_rows if pool else 0}

    def _sampler(self, frame: pd.DataFrame, plan: dict[str, Any]) -> Sampler:
        fit = KdeFit.of(plan["kde"])
        rng = np.random.default_rng(plan["seed"])
        source = sampling_pool(frame[plan["discrete"]], plan["min_count"]).rows if plan["min_count"] > 1 else None
        return lambda n: synthesize_continuous(frame, fit, n, rng, discrete=plan["discrete"], clip=plan["clip"],
                                               round_integers=plan["round_integers"], index=pd.RangeIndex(n),
                                               source=source)


@register_op("rare_value_merge")
class RareValueMerge(ColumnOp):
    """Anomaly elimination (Borisov et al. 2023): values covering fewer than T/n % of rows merge into one neutral
    value."""

    class Params(OpParams):
        level: float = Field(10.0, gt=0, le=100)     # T, in %
        neutral: str = "undefined"

    params: Params

    fit_needs = FitNeeds.COUNTS
    value_wise = True

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        return {"level": self.params.level, "neutral": self.params.neutral,
                **fit_rare_merge(values, self.params.level, ctx.weights).as_dict()}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        return apply_rare_merge(values, plan["keep"], plan["neutral"])


@register_op("datetime_partition")
class DatetimePartition(ColumnOp):
    """Date/time partition (Borisov et al. 2023): a date/time (or an age) becomes an interval label from a named
    partition or custom edges."""

    fit_needs = FitNeeds.NOTHING
    value_wise = True

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

    params: Params

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
    """Noise addition, the baseline: value + scale * sigma * N(0, 1), sigma the column's population sigma, fitted from
    the column's moments; each row's N(0, 1) comes from the plan seed and the row's GUID (``noise.row_normals``),
    so any batch of rows gets the noise the whole table would."""

    fit_needs = FitNeeds.MOMENTS
    row_local = True
    draws_by_row = True

    class Params(OpParams):
        scale: float = Field(0.1, ge=0)       # fraction of sigma
        clip: bool = False
        round_integers: bool = False

    params: Params

    def _floats(self, values: pd.Series, ctx: FitContext) -> np.ndarray:
        try:
            return as_float(values)
        except TypeError:
            raise TransformError(ctx.column, self.name, "needs a numeric or datetime column") from None

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        self._floats(values.iloc[:0], ctx)
        m = _moments(values, None, ctx)
        low, high = (float(m.low[0]), float(m.high[0])) if m.count[0] else (None, None)
        return {"seed": _seed(ctx), "policy_seed": ctx.seed, "scale": self.params.scale,
                "sigma": float(m.sigma()[0]), "low": low, "high": high, "fitted_on": FitNeeds.MOMENTS.value,
                "draws": "per row, from the plan seed and the row's GUID"}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        x = self._floats(values, ctx)
        guids = _guids(ctx, values.index)
        # Without GUIDs (a column outside the pipeline, or a plan fitted before row keys), rows draw by position.
        if guids is None or "draws" not in plan:
            noisy = add_noise(x, plan["sigma"], plan["scale"], np.random.default_rng(plan["seed"]))
        else:
            noisy = add_noise(x, plan["sigma"], plan["scale"], normals=row_normals(plan["seed"], guids))
        if self.params.clip and len(x):
            # The whole input's range, frozen in the plan (plans fitted before it: this batch's).
            low, high = (plan["low"], plan["high"]) if "low" in plan else (np.nanmin(x), np.nanmax(x))
            if low is not None:
                noisy = np.clip(noisy, low, high)
        return from_float(noisy, values, values.index, rounded=self.params.round_integers)


@register_op("grouped_synthesis")
class GroupedSynthesis(Synthesiser):
    """Splits a policy group into dependent subgroups (automatically, by association above a threshold, or as
    listed) and synthesises each independently: discrete synthesis for an all-discrete subgroup, kernel synthesis
    (with the discrete members copied from the shared source row) otherwise. The plan records the subgroups and the
    associations that linked them."""

    whole_table_reason = "its subgroups and their kinds are found over every row of the group (in memory)"

    class Params(SynthesisParams):
        grouping: Literal["auto", "explicit", "single"] = "auto"
        threshold: float = Field(0.3, ge=0, le=1)
        #: With grouping: explicit, the subgroups (columns left out become singletons).
        subgroups: list[list[str]] = Field(default_factory=list)
        #: Columns smoothed by the kernel (default: floats, datetimes, integers with > integer_categories values).
        continuous: list[str] | None = None
        integer_categories: int = Field(INTEGER_CATEGORIES, ge=0)
        min_count: int = Field(1, ge=1)
        clip: bool = True
        round_integers: bool = True

    params: Params

    def _subops(self, frame: pd.DataFrame, ctx: FitContext) -> tuple[Grouping, list[tuple[list[str], Synthesiser]]]:
        cols = list(frame.columns)
        p = self.params
        if p.grouping == "auto":
            grouping = auto_groups(frame, cols, p.threshold)
        else:
            try:
                grouping = explicit_groups(cols, p.subgroups if p.grouping == "explicit" else [cols])
            except ValueError as exc:
                raise TransformError(ctx.column, self.name, str(exc)) from None
        cont = _continuous(frame, p.continuous, p.integer_categories, ctx, self.name)
        ops: list[tuple[list[str], Synthesiser]] = []
        for group in grouping.groups:
            smooth = [c for c in group if c in cont]
            if smooth:
                op: Synthesiser = KdeSynthesis(KdeSynthesis.Params(
                    clip=p.clip, round_integers=p.round_integers, min_count=p.min_count,
                    discrete=[c for c in group if c not in cont]))
            else:
                op = DiscreteSynthesis(DiscreteSynthesis.Params(min_count=p.min_count))
            ops.append((group, op))
        return grouping, ops

    @staticmethod
    def _sub_ctx(ctx: FitContext, i: int) -> FitContext:
        return FitContext(column=f"{ctx.column}/{i}", seed=ctx.seed, reference_date=ctx.reference_date,
                          base_dir=ctx.base_dir, step=ctx.step)

    def _settings(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        grouping, ops = self._subops(frame, ctx)
        subplans = [{"columns": cols, "op": op.name, "plan": op._settings(frame[cols], self._sub_ctx(ctx, i))}
                    for i, (cols, op) in enumerate(ops)]
        return {"policy_seed": ctx.seed, "grouping": grouping.as_dict(), "subgroups": subplans}

    def _sampler(self, frame: pd.DataFrame, plan: dict[str, Any]) -> Sampler:
        samplers = []
        for sub in plan["subgroups"]:
            # Both sub-ops sample from their plan alone, so default params rebuild them.
            op_cls = DiscreteSynthesis if sub["op"] == DiscreteSynthesis.name else KdeSynthesis
            samplers.append(op_cls(op_cls.Params())._sampler(frame[sub["columns"]], sub["plan"]))
        return lambda n: pd.concat([draw(n) for draw in samplers], axis=1)[list(frame.columns)]


def _continuous(frame: pd.DataFrame, listed: list[str] | None, integer_categories: int, ctx: FitContext,
                op: str) -> list[str]:
    """The listed continuous columns (checked), else the default rule of ``is_smoothed``."""
    if listed is None:
        return [c for c in frame.columns if is_smoothed(frame[c], integer_categories)]
    unknown = [c for c in listed if c not in frame.columns]
    if unknown:
        raise TransformError(ctx.column, op, f"continuous column(s) {unknown} are not in the group")
    for c in listed:
        try:
            as_float(frame[c].iloc[:0])
        except TypeError:
            raise TransformError(c, op, "a continuous column must be numeric or datetime") from None
    return list(listed)


@register_op("cart_synthesis")
class CartSynthesis(Synthesiser):
    """Sequential CART (Nowok, Raab and Dibben 2016; synthpop's default): the first column from its marginal,
    each next one from a donor in the leaf of a tree on the columns before it; ``min_leaf`` training rows at
    least per leaf. The plan holds settings and seeds only; the trees are fitted again wherever the plan is
    applied (on a replay: on the batch given)."""

    # Its trees are fitted on every training row and its donors are drawn by position: one batch, all in memory.
    fit_needs = FitNeeds.ROWS
    row_local = False
    whole_table_reason = "its trees are fitted on every row of the group (the whole group in memory)"

    class Params(SynthesisParams):
        #: Fewest training rows in a leaf: the privacy lever (synthpop's minbucket, default 5).
        min_leaf: int = Field(20, ge=1)
        #: Visit sequence (default: the group's column order); the columns not listed follow in group order.
        order: list[str] | None = None
        #: Columns smoothed and drawn by regression trees (default: as grouped_synthesis).
        continuous: list[str] | None = None
        integer_categories: int = Field(INTEGER_CATEGORIES, ge=0)
        #: Donor value + Gaussian noise of the leaf's Silverman bandwidth on continuous columns, in range.
        smoothing: bool = True
        refuse_unique_copies: bool = True

    params: Params

    def _settings(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        listed = list(self.params.order or [])
        unknown = [c for c in listed if c not in frame.columns]
        if unknown or len(set(listed)) != len(listed):
            raise TransformError(ctx.column, self.name, f"order must name distinct columns of the group; not in "
                                 f"it: {unknown}")
        order = listed + [c for c in frame.columns if c not in listed]
        return {"seed": _seed(ctx), "policy_seed": ctx.seed, "order": order,
                "continuous": _continuous(frame, self.params.continuous, self.params.integer_categories, ctx,
                                          self.name),
                "min_leaf": self.params.min_leaf, "smoothing": self.params.smoothing}

    def _sampler(self, frame: pd.DataFrame, plan: dict[str, Any]) -> Sampler:
        cart = CartSynthesizer(frame[plan["order"]], plan["continuous"], np.random.default_rng(plan["seed"]),
                               min_leaf=plan["min_leaf"], smoothing=plan["smoothing"])
        return lambda n: cart.sample(n)[list(frame.columns)]
