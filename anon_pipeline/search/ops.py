"""The ``generalise`` table op: a policy group's quasi-identifiers generalised by lattice search or Mondrian.

``fit`` runs the search once and freezes the result -- the chosen levels, each column's value -> label map and
the classes (tuples of generalised values) that fail the criteria -- with what the report needs (nodes
checked, search time, the chosen node and what every lower neighbour failed). It may see every row, or each
distinct row once with ``FitContext.weights`` (how many rows it stands for): both give the same plan.

``apply`` (strategy optimal) replays the frozen levels row by row and suppresses a row, as ``*`` or by removing
it, exactly when its generalised class is listed in the plan: so any batch gives each row the same output, and
a plan replayed on new data suppresses the classes that failed at fit, never a class it did not see (the
release's own k check then judges the new data). Mondrian is local recoding: its boxes belong to the rows they
were cut from, so ``apply`` partitions what it is given afresh; it needs every row at fit and at apply
(instance-level ``fit_needs`` ROWS, ``row_local`` False, ``batch_safe()`` False).

Suppressed rows kept as ``*`` form one class of their own; with fewer than k of them a k check that counts
that class fails, so ``suppress: remove`` is the safe choice when the release is checked that way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from anon_pipeline.errors import InputDataError, TransformError
from anon_pipeline.hierarchies.builders import TOP, HierarchySpec, build_hierarchy, check_hierarchy_file
from anon_pipeline.hierarchies.registry import registered_hierarchy_kinds
from anon_pipeline.criteria import PrivacyTargets
from anon_pipeline.search.criteria import Criteria
from anon_pipeline.search.grouping import class_table
from anon_pipeline.hierarchies.encoded import as_hierarchy_strings
from anon_pipeline.search.mondrian import mondrian
from anon_pipeline.search.optimal import search_problem
from anon_pipeline.search.problem import encode_problem
from anon_pipeline.search.quality import registered_quality_models, unknown_quality
from anon_pipeline.transforms.registry import FitContext, FitNeeds, OpParams, TableOp, register_op
from anon_pipeline.jsonable import jsonable
from anon_pipeline.metrics.k_anonymity import encode_codes


class GeneraliseParams(OpParams):
    strategy: Literal["optimal", "mondrian"] = "optimal"
    #: column -> ARX CSV path (relative to the policy's folder) or a builder spec (see build_hierarchy)
    hierarchies: dict[str, HierarchySpec] = Field(default_factory=dict)
    #: Mondrian's numeric quasi-identifiers (default: every column of the group but ``sensitive``)
    columns: list[str] | None = None
    k: int | None = Field(None, ge=1)
    l: float | None = Field(None, ge=1)
    l_variant: Literal["distinct", "entropy"] = "distinct"
    t: float | None = Field(None, ge=0, le=1)
    t_variant: Literal["equal", "ordered"] = "equal"
    #: a ``privacy:`` section, as in the policy (any registered privacy model, plugins included); adds to k, l, t
    privacy: PrivacyTargets | None = None
    sensitive: str | None = None
    suppression_limit: float = Field(0.0, ge=0, le=1)
    quality: str = "loss"
    #: what happens to suppressed rows: their quasi-identifiers become "*", or the rows are removed
    suppress: Literal["star", "remove"] = "star"

    @field_validator("quality")
    @classmethod
    def _registered_quality(cls, value: str) -> str:
        if value not in registered_quality_models():
            raise ValueError(unknown_quality(value))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "GeneraliseParams":
        if self.strategy == "optimal":
            if not self.hierarchies:
                raise ValueError("strategy 'optimal' needs hierarchies for the quasi-identifiers")
            # the targets bind now, so a whole-table target or a missing `sensitive` fails at load
            self.criteria().checks(self.sensitive)
        elif self.k is None:
            raise ValueError("strategy 'mondrian' needs k")
        return self

    def criteria(self) -> Criteria:
        return Criteria(k=self.k, l=self.l, l_variant=self.l_variant, t=self.t, t_variant=self.t_variant,
                        privacy=self.privacy)


class _ClassOrInstance:
    """A method bound to the instance when asked on one, else to the class: ``batch_safe`` answers per strategy
    on an op, and with the class's conservative default on the class."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def __get__(self, obj, cls):
        return self.fn.__get__(cls if obj is None else obj)


@register_op("generalise")
class Generalise(TableOp):
    Params = GeneraliseParams
    params: GeneraliseParams
    # The class defaults hold for any strategy (Mondrian needs every row); an op of strategy optimal fits on
    # distinct rows with counts and applies row by row: its instance says so.
    fit_needs = FitNeeds.ROWS
    row_local = False

    def __init__(self, params: GeneraliseParams) -> None:
        super().__init__(params)
        if params.strategy == "optimal":
            # Per instance on purpose (see above); mypy reads the base's ClassVar as class-only.
            self.fit_needs = FitNeeds.COUNTS  # type: ignore[misc]
            self.row_local = True  # type: ignore[misc]

    @_ClassOrInstance
    def batch_safe(self) -> bool:
        return self.row_local and not self.draws_by_position

    def check_at_load(self, columns: list[str], base_dir: Path) -> None:
        """The columns the params name are the group's; with strategy optimal, every column of the group but
        those the targets measure (``sensitive``, an attribute) has a hierarchy (a column without one would be
        released as it is, unsearched), and each hierarchy file exists."""
        p = self.params
        named = {"hierarchies": list(p.hierarchies), "columns": list(p.columns or ()),
                 "sensitive": [p.sensitive] if p.sensitive else []}
        for key, names in named.items():
            outside = [c for c in names if c not in columns]
            if outside:
                raise ValueError(f"{key} names {outside}, not a column of the group ({', '.join(columns)})")
        if p.strategy != "optimal":
            return
        # What the targets measure within the classes (l, t or a plugin's attribute) needs no hierarchy.
        measured = {check.attribute for _, check in p.criteria().checks(p.sensitive)}
        bare = [c for c in columns if c not in p.hierarchies and c not in measured]
        if bare:
            raise ValueError(f"group column(s) {bare} have no hierarchy: strategy 'optimal' generalises only the "
                             "columns under hierarchies:, so these would be released as they are. Give each a "
                             "hierarchy (an ARX CSV, or e.g. {mask: 1} or {intervals: ...}), name the sensitive "
                             "one as sensitive:, or move them out of the group")
        for column, spec in p.hierarchies.items():
            if spec.kind == "arx":
                try:
                    check_hierarchy_file(spec.arg, base_dir)
                except ValueError as exc:
                    raise ValueError(f"hierarchies.{column}: {exc}") from None

    def _hierarchy(self, column: str, values: pd.Series, ctx: FitContext) -> pd.DataFrame:
        try:
            return build_hierarchy(self.params.hierarchies[column], values, ctx.base_dir)
        except (OSError, ValueError) as exc:
            raise TransformError(column, self.name, f"cannot build the hierarchy: {exc}") from None

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        p = self.params
        if p.strategy == "mondrian":
            if ctx.weights is not None:
                raise TransformError(ctx.column, self.name, "strategy 'mondrian' partitions rows: fit it on every "
                                     "row, not on distinct rows with counts")
            columns = p.columns or [c for c in frame.columns if c != p.sensitive]
            started = time.perf_counter()
            assert p.k is not None  # GeneraliseParams requires k for mondrian
            try:
                partitioned = mondrian(frame, columns, k=p.k)
            except ValueError as exc:
                raise TransformError(ctx.column, self.name, str(exc)) from None
            return {"strategy": "mondrian", "k": p.k, "columns": columns, "n_classes": partitioned.n_classes,
                    "min_class_size": partitioned.min_class_size, "search_seconds": time.perf_counter() - started,
                    "suppressed_rows": 0}
        missing = [c for c in p.hierarchies if c not in frame.columns]
        if missing:
            raise TransformError(ctx.column, self.name, f"hierarchy column(s) {missing} are not in the group")
        hierarchies = {c: self._hierarchy(c, frame[c], ctx) for c in p.hierarchies}
        try:
            problem = encode_problem(frame, hierarchies, p.criteria(), p.sensitive, p.suppression_limit,
                                     ctx.weights, ctx.base_dir)
            result = search_problem(problem, p.quality)
        except ValueError as exc:
            raise TransformError(ctx.column, self.name, str(exc)) from None
        except InputDataError as exc:
            if exc.rule != "hierarchy coverage" or exc.column not in p.hierarchies:
                raise
            raise TransformError(exc.column, self.name, f"{exc.detail}: hierarchies.{exc.column} "
                                 f"({_described(p.hierarchies[exc.column], ctx.base_dir)}) must give every value "
                                 "of the column a row (widen the intervals, or add the values to the file)",
                                 n_rows=exc.n_rows) from None
        maps = {c: dict(zip(h.labels[0].tolist(), h.generalise(np.arange(h.domain_size), result.levels[c]).tolist()))
                for c, h in zip(problem.columns, problem.hierarchies)}
        # The failing classes as tuples of generalised values (sorted, so the plan does not depend on row order)
        failed = pd.DataFrame({c: h.generalise(problem.codes[result.suppressed_mask, j], result.levels[c])
                               for j, (c, h) in enumerate(zip(problem.columns, problem.hierarchies))})
        suppressed_classes = sorted(failed.drop_duplicates().itertuples(index=False, name=None))
        return jsonable({
            "strategy": "optimal",
            "levels": result.levels,
            "chosen_node": [result.levels[c] for c in problem.columns],
            "score": result.score,
            "quality": p.quality,
            "suppressed_rows": result.suppressed,
            "suppression_budget": result.max_suppressed,
            "nodes_checked": result.nodes_checked,
            "lattice_size": result.lattice_size,
            "search_seconds": result.search_seconds,
            "lower_neighbours": result.lower_neighbours,
            "maps": maps,
            "suppressed_classes": suppressed_classes,
        })

    def _generalised(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        out = frame.copy()
        for column, mapping in plan["maps"].items():
            # Each distinct value once: a column repeats few values many times.
            row_codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
            values = pd.Series(uniques, name=column)
            keys = pd.Series(as_hierarchy_strings(values))
            mapped = keys.map(mapping)
            unseen = mapped.isna() & keys.notna()
            if unseen.any():
                spec = self.params.hierarchies[column]
                if registered_hierarchy_kinds()[spec.kind].value_local:
                    extra = self._hierarchy(column, values[unseen], ctx)
                    level = plan["levels"][column]
                    # A builder leaves out values it cannot place (text or beyond the edges): an empty table.
                    if level < extra.shape[1]:
                        mapped = mapped.fillna(keys.map(dict(zip(extra.iloc[:, 0], extra.iloc[:, level]))))
                    unseen = mapped.isna() & keys.notna()
            bad = (unseen | keys.isna()).to_numpy()
            if bad.any():
                raise TransformError(column, self.name, "value(s) have no entry in the hierarchy",
                                     n_rows=int(bad[row_codes].sum()))
            out[column] = pd.Series(mapped.to_numpy(dtype=object)[row_codes], index=frame.index, dtype=object)
        return out

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        p = self.params
        if plan["strategy"] == "mondrian":
            columns = plan["columns"]
            try:
                result = mondrian(frame, columns, k=int(plan["k"]))
            except ValueError as exc:
                raise TransformError(ctx.column, self.name, str(exc)) from None
            out = frame.copy()
            for c in columns:
                out[c] = result.frame[c].astype(object)
            return out
        out = self._generalised(frame, plan, ctx)
        qis = list(plan["maps"])
        if not ctx.suppress or len(out) == 0:
            return out
        if "suppressed_classes" in plan:
            fail_rows = _listed(out, qis, plan["suppressed_classes"])
        else:
            # A plan fitted before classes were listed: the classes of what apply is given are checked, as then
            # (right on the whole table only; refit to apply batch by batch).
            fail_rows = self._failing_rows(out, qis, ctx)
        if not fail_rows.any():
            return out
        if p.suppress == "remove":
            return out.loc[~fail_rows]
        out.loc[fail_rows, qis] = TOP
        return out

    def _failing_rows(self, out: pd.DataFrame, qis: list[str], ctx: FitContext) -> np.ndarray:
        """Rows of classes (on the generalised values) that fail the criteria."""
        p = self.params
        row_class = encode_codes(out[qis].astype(str), qis)
        n_classes = int(row_class.max()) + 1
        criteria = p.criteria().bind(out, p.sensitive, ctx.base_dir)
        table = class_table(row_class, n_classes, criteria.codes, criteria.n_values)
        return criteria.failing(table)[row_class]


def _described(spec: HierarchySpec, base_dir: Path) -> str:
    """A hierarchy as the policy gives it, short: the file it reads, or its spec (the policy's words, not data)."""
    if spec.kind == "arx":
        return str(Path(base_dir) / spec.arg)
    text = json.dumps(spec.model_dump(mode="json"))
    return text if len(text) <= 80 else text[:77] + "..."


def _listed(out: pd.DataFrame, qis: list[str], classes: list) -> np.ndarray:
    """Rows whose tuple of generalised values is one of ``classes``."""
    if not classes:
        return np.zeros(len(out), dtype=bool)
    listed = pd.MultiIndex.from_tuples([tuple(c) for c in classes], names=qis)
    return np.asarray(pd.MultiIndex.from_frame(out[qis]).isin(listed))
