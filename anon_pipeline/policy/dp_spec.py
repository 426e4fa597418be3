"""The policy's optional ``dp:`` section: which dataset a release spends from, that dataset's total budget, and
the differentially private aggregates released beside the table (computed by ``anon_pipeline.dp.aggregates``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from anon_pipeline.errors import PolicyError
from anon_pipeline.strict_model import SafeName, StrictModel

if TYPE_CHECKING:
    from anon_pipeline.policy.model import Policy


class DPBudget(StrictModel):
    epsilon: float = Field(gt=0)
    delta: float = Field(0.0, ge=0, lt=1)


class AggregateSpec(StrictModel):
    """One released statistic: ``count`` (rows), ``sum`` or ``mean`` of ``column`` clipped to ``bounds``, or a
    ``histogram`` of ``column`` over ``edges``, per combination of the ``by`` columns' public keys.

    ``column`` and ``by`` are the policy's (input) column names and must be released columns; the aggregates are
    of the input values (before the column's steps), so the result tables keep the input names. A ``by``
    column's keys come from the policy, never from the data (a key seen only in one person's row would be
    revealed by its presence): ``keys: {column: [...]}`` here, else the column's ``allowed:`` list (checked by
    ``check_aggregates`` at load): the standard requirement of public partition keys.
    """

    name: SafeName
    kind: Literal["count", "sum", "mean", "histogram"]
    epsilon: float = Field(gt=0)
    column: str | None = Field(None, validate_default=True)
    by: list[str] = Field(default_factory=list)
    bounds: tuple[float, float] | None = Field(None, validate_default=True)
    edges: list[float] | None = Field(None, validate_default=True)
    keys: dict[str, list[Any]] = Field(default_factory=dict)

    @field_validator("column", "bounds", "edges")
    @classmethod
    def _needed_by_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        assert info.field_name is not None  # always set for a field validator
        needed = {"column": ("sum", "mean", "histogram"), "bounds": ("sum", "mean"), "edges": ("histogram",)}
        if kind is None:
            return value
        if value is None and kind in needed[info.field_name]:
            raise ValueError(f"a {kind} needs '{info.field_name}'")
        if value is not None and kind not in needed[info.field_name]:
            raise ValueError(f"a {kind} takes no '{info.field_name}'")
        if info.field_name == "bounds" and value is not None and not value[0] < value[1]:
            raise ValueError("'bounds' must be [low, high] with low < high")
        if info.field_name == "edges" and value is not None and (len(value) < 2 or list(value) != sorted(set(value))):
            raise ValueError("'edges' must be at least two strictly increasing numbers")
        return value

    @field_validator("by")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a column twice")
        return value

    @field_validator("keys")
    @classmethod
    def _keys_of_by_columns(cls, value: dict[str, list[Any]], info: ValidationInfo) -> dict[str, list[Any]]:
        for col, keys in value.items():
            if col not in info.data.get("by", []):
                raise ValueError(f"'{col}' is not one of the 'by' columns")
            if not keys or len(set(map(str, keys))) != len(keys):
                raise ValueError(f"the keys of '{col}' must be distinct and not empty")
        return value


class DPSpec(StrictModel):
    """``dp: {dataset_id: adult, budget: {epsilon: 3, delta: 1e-6}}``. Policies that name the same dataset share
    one ledger; without ``dataset_id`` the policy name is the dataset. Without ``budget`` spending is recorded
    but never refused."""

    dataset_id: str | None = None
    budget: DPBudget | None = None
    aggregates: list[AggregateSpec] = Field(default_factory=list)

    @field_validator("aggregates")
    @classmethod
    def _unique_names(cls, value: list[AggregateSpec]) -> list[AggregateSpec]:
        names = [a.name for a in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"two aggregates share the name(s) {dupes} (each names a released file)")
        return value

    @field_validator("dataset_id")
    @classmethod
    def _safe_file_name(cls, value: str | None) -> str | None:
        # It names the ledger file, so no path separators or dots.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("must be letters, digits, '_' or '-' (it names the ledger file)")
        return value


def group_keys(spec: AggregateSpec, policy: "Policy") -> dict[str, list[Any]]:
    """The public keys of every ``by`` column: the aggregate's ``keys``, else the column's ``allowed`` list."""
    return {col: list(spec.keys[col]) if col in spec.keys else list(dict.fromkeys(policy.columns[col].allowed or []))
            for col in spec.by}


def check_aggregates(policy: "Policy", policy_file: str | Path | None = None) -> None:
    """The checks of ``dp.aggregates`` that need the columns: each named column is a released column, a summed or
    binned one is numeric, and each ``by`` column has a declared key set (``PolicyError`` naming the field)."""
    if policy.dp is None:
        return
    kept = set(policy.kept_columns)
    for i, agg in enumerate(policy.dp.aggregates):
        field = f"dp.aggregates[{i}]"
        for col, where in [(agg.column, "column"), *((c, "by") for c in agg.by)]:
            if col is not None and col not in kept:
                raise PolicyError(policy_file, f"'{col}' is not a released column of the policy (aggregates are "
                                  "over the released columns)", field=f"{field}.{where}")
        if agg.column is not None and policy.columns[agg.column].dtype not in ("int", "float"):
            raise PolicyError(policy_file, f"a {agg.kind} needs a numeric column; '{agg.column}' has dtype "
                              f"{policy.columns[agg.column].dtype}", column=agg.column, field=f"{field}.column")
        for col in agg.by:
            if col not in agg.keys and not policy.columns[col].allowed:
                raise PolicyError(policy_file, f"'by' column '{col}' has no declared key set: give it an "
                                  f"'allowed:' list or the aggregate 'keys: {{{col}: [...]}}' (keys read from the "
                                  "data would reveal who is in it)", column=col, field=f"{field}.by")
