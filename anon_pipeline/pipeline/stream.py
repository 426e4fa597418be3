"""The streaming engine: a policy run over batches of rows, never holding the whole input.

1. The qi pass reads the source in batches (``pipeline.batches``), validates and types each one, checks the
   rules that span batches (``unique``, repeated rows) by hashes, builds the qi rows and writes them into GUID
   buckets (``pipeline.staged``); in the same pass it gathers what the ops' fits need (``FitNeeds``): the
   distinct values of a column with their counts, the moments (count, mean, variance, range) of a column whose
   first step is fitted on moments (noise), and those of a group's continuous columns when no column step
   changes them (kernel synthesis).
2. The fit runs on those aggregates: each column's chain on its distinct values (weighted), each group's steps
   on the distinct rows of its columns with their counts, or on their moments (one more pass over the buckets
   per group, unless the qi pass gathered them: the group's input is the column steps' output, known only once
   those are fitted).
3. The apply pass replays the frozen plan bucket by bucket; buckets in order, each sorted by GUID, give the
   release in GUID order. Noise draws per row from the row's GUID, synthesis per bucket from the bucket's rows
   (each bucket a random sample of the table).

An op that needs every row (``FitNeeds.ROWS``), or whose apply depends on the other rows of its batch (not
``batch_safe``), and the attack evaluation (it attacks the whole table) make the fit and apply of that policy
run on the whole table in memory: ``engine_blockers`` says why, and the plan records it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.metrics.counted import ValueCounts
from anon_pipeline.pipeline.anonymise import Anonymised, anonymise, replay
from anon_pipeline.pipeline.batches import count_rows, read_batches
from anon_pipeline.pipeline.qi_table import GUID, qi_batch
from anon_pipeline.pipeline.raw_schema import RawValidation
from anon_pipeline.pipeline.source import SourceFile
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.pipeline.steps import context
from anon_pipeline.policy.load import BoundStep, bind_steps
from anon_pipeline.policy.model import Policy, Role
from anon_pipeline.prefetch import Behind, prefetched
from anon_pipeline.stats.moments import Moments
from anon_pipeline.transforms.distinct import apply_op
from anon_pipeline.transforms.op_errors import op_errors
from anon_pipeline.transforms.registry import FitNeeds

#: Bytes per CSV row assumed when a CSV's row count must be guessed before reading it (for the bucket count).
_CSV_ROW_BYTES = 100


def engine_blockers(policy: Policy) -> list[str]:
    """Why this policy's fit and apply must see the whole table at once; empty when it streams."""
    reasons = []
    if policy.evaluation is not None:
        reasons.append("evaluation: the attacks are measured on the whole table and its held-out control rows")
    if len(policy.groups) > 1:
        reasons.append("groups: a second group is fitted on the first one's output, which takes the whole table")
    column_steps, group_steps = bind_steps(policy)
    for name, steps in [*column_steps.items(), *group_steps.items()]:
        if name in policy.columns and policy.columns[name].role is Role.identifier:
            continue  # identifier ops run in the qi pass, batch by batch (they are all row-local)
        drawn = False
        for i, bound in enumerate(steps):
            if bound.op.fit_needs is FitNeeds.ROWS:
                reasons.append(f"{name}[{i}] {bound.op_name}: {bound.op.whole_table_reason or 'its fit needs every row'}")
            elif not bound.op.batch_safe():
                reasons.append(f"{name}[{i}] {bound.op_name}: its apply depends on the other rows of a batch")
            elif drawn and bound.op.fit_needs is not FitNeeds.NOTHING:
                reasons.append(f"{name}[{i}] {bound.op_name}: its fit needs every row a random step before it drew")
            drawn = drawn or _draws(bound)
    return reasons


def _draws(bound: BoundStep) -> bool:
    """Whether a step's output is drawn at random (per row or per batch): no later step is fitted on aggregates of
    its input."""
    return bool(getattr(bound.op, "draws_by_row", False) or getattr(bound.op, "draws_per_batch", False))


def _fits_on_data(bound: BoundStep) -> bool:
    return bound.op.fit_needs is not FitNeeds.NOTHING


def n_buckets(src: SourceFile, rows_per_batch: int) -> int:
    rows = count_rows(src)
    if rows is None:
        rows = src.n_bytes // _CSV_ROW_BYTES
    return max(1, math.ceil(rows / rows_per_batch))


def counted_columns(policy: Policy) -> list[str]:
    """Kept columns whose chain has a fit that looks at the data (distinct values or counts; moments after the
    first step come from the counts of that step's input)."""
    column_steps, _ = bind_steps(policy)
    return [name for name in policy.kept_columns if policy.columns[name].role is not Role.identifier
            and any(b.op.fit_needs in (FitNeeds.DISTINCT, FitNeeds.COUNTS)
                    or (i and b.op.fit_needs is FitNeeds.MOMENTS) for i, b in enumerate(column_steps[name]))]


def moment_inputs(policy: Policy) -> dict[str, list[str]]:
    """What the qi pass gathers moments of: a kept column whose first step is fitted on moments (its own moments,
    key ``column:<name>``), and a group's moment columns when its first step is fitted on moments and no column
    step changes those columns (key ``group:<name>``)."""
    column_steps, group_steps = bind_steps(policy)
    out = {f"column:{name}": [name] for name in policy.kept_columns
           if policy.columns[name].role is not Role.identifier and column_steps[name]
           and column_steps[name][0].op.fit_needs is FitNeeds.MOMENTS}
    for group in policy.groups[:1]:
        steps = group_steps[group.name]
        if steps and steps[0].op.fit_needs is FitNeeds.MOMENTS:
            wanted = steps[0].op.moment_columns(list(group.columns))
            if not any(column_steps.get(c) for c in wanted):
                out[f"group:{group.name}"] = wanted
    return out


class Aggregates:
    """What the qi pass gathers for the fits, merged batch by batch (or task by task): value counts of the
    ``counted_columns``, moments of the ``moment_inputs`` (numeric or datetime columns only: a fit on another
    column refuses it with the op's own error)."""

    def __init__(self, policy: Policy) -> None:
        self.counts = ValueCounts(counted_columns(policy))
        self.inputs = moment_inputs(policy)
        self.moments: dict[str, Moments] = {}

    def add(self, frame: pd.DataFrame) -> None:
        self.counts.add(frame)
        for key, columns in self.inputs.items():
            try:
                self._merge_moments(key, Moments.of_frame(frame, columns))
            except TypeError:
                continue

    def merge(self, other: "Aggregates") -> None:
        self.counts.merge(other.counts.counts)
        for key, here in other.moments.items():
            self._merge_moments(key, here)

    def _merge_moments(self, key: str, here: Moments) -> None:
        self.moments[key] = self.moments[key].merge(here) if key in self.moments else here

    def write(self, qi: StagedTable, policy: Policy) -> None:
        write_counts(qi, policy, self.counts)
        for key, moments in self.moments.items():
            qi.write_extra(_moments_name(key), moments.as_frame())


def _moments_name(key: str) -> str:
    return "moments-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def read_moments(qi: StagedTable, key: str) -> Moments | None:
    """Moments the qi pass gathered under ``key`` (``Aggregates``), or None."""
    found = qi.extra(_moments_name(key))
    return None if found is None else Moments.from_frame(found)


def typed_batches(src: SourceFile, policy: Policy, rows_per_batch: int) -> Iterator[pd.DataFrame]:
    """The source in validated, typed batches. Once a batch breaks a rule no more batches are handed on, but
    every batch is still validated, so the error raised at the end counts the rows of the whole file (and the
    rules that span batches, ``unique`` and repeated rows, are checked by hashes)."""
    validation = RawValidation(policy, src.path, reread=lambda: read_batches(src, policy, rows_per_batch))
    for batch in read_batches(src, policy, rows_per_batch):
        typed = validation.add(batch)
        if not validation.broken:
            yield typed
    validation.finish()


def stream_qi_table(src: SourceFile, policy: Policy, staging: Path, rows_per_batch: int,
                    watch: Callable[[pd.DataFrame], None] | None = None
                    ) -> tuple[StagedTable, StagedTable | None]:
    """The qi pass: (the qi table in GUID buckets, with its value counts; the contract, in source order, or
    None when the policy keeps none). ``watch`` sees each batch of the qi table as it is written."""
    qi = StagedTable.create(staging, "qi_table", n_buckets(src, rows_per_batch))
    contract = StagedTable.create(staging, "contract", 1) if policy.release.contract else None
    aggregates = Aggregates(policy)

    def write(table: pd.DataFrame, lead: np.ndarray, links: pd.DataFrame, part: int) -> None:
        qi.write_buckets(table, lead, part)
        if contract is not None:
            contract.write_part(links, 0, part)

    try:
        # Three threads: the next batch is read, validated and given its GUIDs (``prefetched``) while this one is
        # counted and judged, and the one before is written (``Behind``).
        with Behind() as writes:
            for part, (table, lead, links) in enumerate(prefetched(_qi_batches(src, policy, rows_per_batch))):
                aggregates.add(table)
                if watch is not None:
                    watch(table)
                writes.submit(write, table, lead, links, part)
    except BaseException:
        qi.remove()
        if contract is not None:
            contract.remove()
        raise
    aggregates.write(qi, policy)
    return qi, contract


def _qi_batches(src: SourceFile, policy: Policy, rows_per_batch: int
                ) -> Iterator[tuple[pd.DataFrame, np.ndarray, pd.DataFrame]]:
    """The qi pass's batches: (the qi rows, their GUIDs' leading 32 bits, the contract's links)."""
    first_row = 0
    for typed in typed_batches(src, policy, rows_per_batch):
        yield qi_batch(typed, policy, first_row)
        first_row += len(typed)


def write_counts(qi: StagedTable, policy: Policy, counts: ValueCounts) -> None:
    """The value counts of the qi pass, beside the qi table (what ``fit_streaming`` reads)."""
    for name, vc in counts.counts.items():
        qi.write_extra(f"counts{policy.kept_columns.index(name)}",
                       pd.DataFrame({"value": vc.index.to_series(index=None).reset_index(drop=True),
                                     "n": vc.to_numpy(dtype=np.int64)}))


# ---- fit ---------------------------------------------------------------------------------------------------------

def _fit_input(bound: BoundStep, values: pd.Series | pd.DataFrame, weights: np.ndarray, ctx,
               moments: Moments | None):
    need = bound.op.fit_needs
    if need is FitNeeds.NOTHING:
        return values.iloc[:0], ctx
    if need is FitNeeds.COUNTS:
        return values, replace(ctx, weights=weights)
    if need is FitNeeds.MOMENTS:
        if moments is None:  # moments of the distinct values (rows), weighted by their counts
            try:
                columns = None if isinstance(values, pd.Series) else bound.op.moment_columns(list(values.columns))
                moments = Moments.of_frame(values, columns, weights)
            except TypeError:
                pass  # not numeric: the op's fit says so
        return values.iloc[:0], replace(ctx, moments=moments)
    return values, ctx


def _regroup(values: pd.Series | pd.DataFrame, weights: np.ndarray) -> tuple[Any, np.ndarray]:
    """Distinct values (or rows) of ``values`` with the summed weights of the rows that gave them."""
    if isinstance(values, pd.Series):
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        return pd.Series(uniques, name=values.name, dtype=values.dtype), np.bincount(codes, weights=weights)
    keyed = values.assign(__w=weights)
    grouped = keyed.groupby(list(values.columns), dropna=False, sort=False, observed=True)["__w"].sum()
    return grouped.index.to_frame(index=False), grouped.to_numpy()


def fit_chain(values: pd.Series | pd.DataFrame, weights: np.ndarray, steps: list[BoundStep], policy: Policy,
              name: str, moments: Moments | None = None) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Plans and key tables of a chain fitted on distinct values (rows) with counts, or, for a first step fitted
    on moments, on ``moments`` of the chain's input: the plan a fit on every row gives, for ops whose fit needs
    no more than counts or moments and whose apply is row-local (or draws per batch)."""
    plans: list[dict[str, Any]] = []
    keys: dict[str, pd.DataFrame] = {}
    weights = np.asarray(weights, dtype=float)
    for i, bound in enumerate(steps):
        ctx = context(policy, name, i)
        data, fit_ctx = _fit_input(bound, values, weights, ctx, moments if i == 0 else None)
        with op_errors(bound.op, name, "fit"):
            plan = bound.op.fit(data, fit_ctx)
        plans.append({"op": bound.op_name, "plan": plan})
        keys.update(bound.op.key_tables(plan, ctx))
        # The next input, only where a later fit reads it (after a random step none may: engine_blockers).
        if any(_fits_on_data(b) for b in steps[i + 1:]):
            values, weights = _regroup(apply_op(bound.op, values, plan, ctx), weights)
    return plans, keys


def _column_input(qi: StagedTable, policy: Policy, name: str, empty: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    found = qi.extra(f"counts{policy.kept_columns.index(name)}")
    if found is None:
        return empty[name], np.zeros(0)
    return found["value"].astype(empty[name].dtype).rename(name), found["n"].to_numpy()


def fit_streaming(qi: StagedTable, policy: Policy, group_counts=None, group_moments=None) -> Anonymised:
    """The plan of a streaming policy from the qi pass's aggregates (and one pass per group: ``group_counts``,
    by default ``_group_counts``, gives a group's distinct rows with their counts; ``group_moments``, by default
    ``_group_moments``, the moments of its columns when its first step is fitted on moments and the qi pass
    could not gather them)."""
    group_counts = group_counts or _group_counts
    group_moments = group_moments or _group_moments
    column_steps, group_steps = bind_steps(policy)
    empty = qi.empty()
    plan: dict[str, Any] = {"policy": policy.name, "seed": policy.seed,
                            "reference_date": policy.reference_date.isoformat() if policy.reference_date else None,
                            "rows_in": qi.rows, "columns": {}, "groups": {}}
    keys: dict[str, pd.DataFrame] = {}
    for name in policy.kept_columns:
        if policy.columns[name].role is Role.identifier or not column_steps[name]:
            continue
        values, weights = _column_input(qi, policy, name, empty)
        plan["columns"][name], k = fit_chain(values, weights, column_steps[name], policy, name,
                                             read_moments(qi, f"column:{name}"))
        keys.update(k)
    for group in policy.groups:  # one at most (engine_blockers)
        steps = group_steps[group.name]
        need = steps[0].op.fit_needs if steps else FitNeeds.NOTHING
        moments = None
        if need is FitNeeds.MOMENTS:
            rows, weights = empty[group.columns], np.zeros(0)
            moments = read_moments(qi, f"group:{group.name}") or group_moments(
                qi, policy, plan, steps[0].op.moment_columns(list(group.columns)))
        elif any(_fits_on_data(b) for b in steps):
            rows, weights = group_counts(qi, policy, plan, group.columns)
        else:
            rows, weights = empty[group.columns], np.zeros(0)
        plan["groups"][group.name], k = fit_chain(rows, weights, steps, policy, group.name, moments)
        keys.update(k)
    return Anonymised(empty.iloc[:0], plan, keys)


def _group_counts(qi: StagedTable, policy: Policy, plan: dict[str, Any], columns: list[str]
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct rows of a group's columns after every column's steps, with their counts, over every bucket."""
    return merged_group_counts((bucket_group_counts(b, policy, plan, columns) for b in qi.buckets()), columns)


def bucket_group_counts(bucket: pd.DataFrame, policy: Policy, plan: dict[str, Any], columns: list[str]) -> pd.Series:
    before_group_steps = replay(bucket, policy, plan, groups=False).before_group_steps
    assert before_group_steps is not None
    return before_group_steps[columns].value_counts(dropna=False, sort=False)


def _group_moments(qi: StagedTable, policy: Policy, plan: dict[str, Any], columns: list[str]) -> Moments | None:
    """Moments of a group's columns after every column's steps, over every bucket (None: not numeric)."""
    return merged_moments(bucket_group_moments(b, policy, plan, columns) for b in qi.buckets())


def bucket_group_moments(bucket: pd.DataFrame, policy: Policy, plan: dict[str, Any], columns: list[str]
                         ) -> Moments | None:
    # The table after the column steps (under the output names, which a group's columns keep until its steps).
    table = replay(bucket, policy, plan, groups=False).table
    try:
        return Moments.of_frame(table[[policy.output_name(c) for c in columns]].set_axis(columns, axis=1), columns)
    except TypeError:
        return None


def merged_moments(found: Iterable[Moments | None]) -> Moments | None:
    merged = None
    for here in found:
        if here is None:
            return None
        merged = here if merged is None else merged.merge(here)
    return merged


def merged_group_counts(counts: Iterable[pd.Series], columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    merged: pd.Series | None = None
    for here in counts:
        merged = here if merged is None else pd.concat([merged, here]).groupby(
            level=list(range(len(columns))), dropna=False, sort=False).sum()
    assert merged is not None
    return merged.index.to_frame(index=False).set_axis(columns, axis=1), merged.to_numpy()


# ---- apply -------------------------------------------------------------------------------------------------------

def apply_streaming(qi: StagedTable, policy: Policy, fitted: Anonymised, staging: Path,
                    watch: Callable[[pd.DataFrame], None] | None = None) -> tuple[StagedTable, StagedTable | None]:
    """The apply pass: (the anonymised table, the table after the column steps when the policy has groups).
    ``watch`` sees each bucket of the anonymised table as it is written (a whole bucket: every row of its GUIDs)."""
    anonymised = StagedTable.create(staging, "anonymised", qi.n_buckets)
    before_group_steps = StagedTable.create(staging, "before_group_steps", qi.n_buckets) if policy.groups else None
    try:
        for i, result in enumerate(prefetched(replay(bucket, policy, fitted.plan) for bucket in qi.buckets())):
            anonymised.write_part(result.table, i, 0)
            if watch is not None:
                watch(result.table)
            if before_group_steps is not None and result.before_group_steps is not None:
                before_group_steps.write_part(result.before_group_steps, i, 0)
    except BaseException:
        anonymised.remove()
        if before_group_steps is not None:
            before_group_steps.remove()
        raise
    return anonymised, before_group_steps


def run_in_memory(qi: StagedTable, policy: Policy, staging: Path, plan: dict[str, Any] | None
                  ) -> tuple[Anonymised, StagedTable, StagedTable | None]:
    """Fit (or replay ``plan``) on the whole table at once, for the policies ``engine_blockers`` names."""
    frame = qi.frame()
    result = anonymise(frame, policy) if plan is None else replay(frame, policy, plan)
    return result, stage_frame(result.table, staging, "anonymised"), \
        stage_frame(result.before_group_steps, staging, "before_group_steps") if policy.groups else None


def stage_frame(frame: pd.DataFrame | None, staging: Path, name: str) -> StagedTable:
    """A table already in memory, staged as one part."""
    staged = StagedTable.create(staging, name, 1)
    staged.write_part(frame if frame is not None else pd.DataFrame(), 0, 0)
    return staged


def plan_key_tables(policy: Policy, plan: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The key tables of a stored plan (what its encode steps decode), without touching data."""
    column_steps, group_steps = bind_steps(policy)
    keys: dict[str, pd.DataFrame] = {}
    for kind, bound in (("columns", column_steps), ("groups", group_steps)):
        for name, steps in plan.get(kind, {}).items():
            for i, (step, b) in enumerate(zip(steps, bound.get(name, []))):
                keys.update(b.op.key_tables(step["plan"], context(policy, name, i)))
    return keys


# ---- the leak check's view of the input ----------------------------------------------------------------------------

def leak_view(src: SourceFile, own_values: dict[str, pd.Series], policy: Policy, rows_per_batch: int,
              released: pd.DataFrame | dict[str, pd.Series]) -> pd.DataFrame:
    """The input cells the identifier-leak check can match against ``released``: the identifier values (one pass
    over those columns of the source) and the kept columns' own values (``own_values``: each kept column's
    distinct values in the qi table, typed; the check reads only which values a column holds), keeping only those
    that equal a released cell or one of its tokens. ``check_no_identifier_leak`` gives the same answer on this
    view as on the whole input, at the memory of the few matches."""
    from anon_pipeline.pipeline.leak import candidate_values, matching_cells

    # The released columns' distinct values are all the candidates need (``released``: the rows, or per column
    # the value counts, indexed by the values).
    columns = ({c: released[c] for c in released.columns} if isinstance(released, pd.DataFrame) else
               {c: pd.Series(counts.index[counts.index.notna()]) for c, counts in released.items()})
    candidates = candidate_values(values for c, values in columns.items() if c != GUID)
    identifiers = [c for c in policy.identifiers if c in policy.columns]
    own = [c for c in policy.kept_columns if policy.columns[c].role is not Role.identifier]
    kept: dict[str, list[pd.Series]] = {c: [] for c in [*identifiers, *own]}
    if identifiers:
        for batch in prefetched(read_batches(src, policy, rows_per_batch, columns=identifiers)):
            for c in identifiers:
                kept[c].append(matching_cells(batch[c], candidates))
    for c in own:
        kept[c].append(matching_cells(own_values[c], candidates, tokens=True))
    return pd.concat({c: pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype="str")
                      for c, parts in kept.items()}, axis=1)
