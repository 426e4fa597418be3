"""``hierarchy``: generalise through a lookup table in ARX's CSV format, to a chosen level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, model_validator

from anon_pipeline.errors import TransformError
from anon_pipeline.hierarchies import load_arx_csv
from anon_pipeline.hierarchies.builders import check_hierarchy_file
from anon_pipeline.transforms.registry import ColumnOp, FitContext, FitNeeds, OpParams, register_op
from anon_pipeline.transforms.unmatched import fill_unmatched


class HierarchyParams(OpParams):
    #: ARX CSV file (relative to the policy's folder), or ...
    path: str | None = None
    #: ... the rows inline: each a value then ever more general levels.
    table: list[list[str]] | None = None
    level: int = Field(ge=0)
    unknown_label: str | None = None
    missing_label: str = "missing"

    @model_validator(mode="after")
    def _one_source(self) -> "HierarchyParams":
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of path or table")
        return self


@register_op("hierarchy")
class Hierarchy(ColumnOp):
    Params = HierarchyParams
    value_wise = True
    fit_needs = FitNeeds.NOTHING
    params: HierarchyParams

    def check_at_load(self, columns: list[str], base_dir: Path) -> None:
        if self.params.path is not None:
            check_hierarchy_file(self.params.path, base_dir)

    def _table(self, ctx: FitContext) -> pd.DataFrame:
        p = self.params
        if p.table is not None:
            return pd.DataFrame(p.table, dtype="str")
        assert p.path is not None  # HierarchyParams requires a table or a path
        path = (ctx.base_dir / p.path) if not p.path.startswith("/") else p.path
        try:
            return load_arx_csv(path)
        except (OSError, ValueError) as exc:
            raise TransformError(ctx.column, self.name, f"cannot read the hierarchy: {exc}") from None

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        table = self._table(ctx)
        if self.params.level >= table.shape[1]:
            raise TransformError(ctx.column, self.name, f"level {self.params.level} does not exist: the hierarchy "
                                 f"has levels 0..{table.shape[1] - 1}")
        return {"mapping": dict(zip(table.iloc[:, 0], table.iloc[:, self.params.level]))}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        p = self.params
        mapped = values.astype("str").map(plan["mapping"]).where(values.notna())
        return fill_unmatched(mapped, values, ctx, self.name, label=p.unknown_label,
                              what="have no entry in the hierarchy", missing_label=p.missing_label
                              ).rename(values.name)
