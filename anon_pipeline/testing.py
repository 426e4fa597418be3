"""``check_op``: the contract every transform op must keep, as one call a plugin's own tests can make.

In the spirit of scikit-learn's ``check_estimator``: given an op (class or registered name), its params and a
small sample, it fits and applies the op and checks

- ``plan_json``: the plan is strict JSON (no NaN, no numpy scalars, no tuples) and survives ``json.dumps`` /
  ``json.loads`` unchanged;
- ``replay``: applying the stored (JSON round-tripped) plan to the same data gives what apply gave;
- ``seeded``: fitting and applying again with the same seed gives the same result (an op whose fit draws from
  the operating system's CSPRNG on purpose, like ``encode``, passes ``seeded=False``: then only apply from one
  plan must repeat);
- ``batches``: for row-local ops, applying batch by batch (batches of 1, 7 and the whole) equals applying once,
  and a ``value_wise`` op gives the same through the pipeline's once-per-distinct-value path;
- ``error_values``: an input with a planted value that makes the op fail raises an ``AnonPipelineError``
  (``TransformError``) whose message and traceback carry no trace of the planted value.

Which checks apply: ``plan_json``, ``replay`` and ``seeded`` to every op; ``batches`` to column ops that are
row-local (``value_wise`` ops are; ``row_local=True`` says so for others, e.g. ``mask``), never to table ops
(``generalise`` suppresses classes counted over the batch, synthesis draws rows from the batch); for
``gaussian_noise`` the draws depend on the row's position, so it is not row-local either. ``error_values``
runs each planted probe; a probe the op accepts (``mask`` accepts any text) is recorded, not failed.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.transforms.distinct import apply_op
from anon_pipeline.transforms.registry import ColumnOp, FitContext, OpParams, TableOp, get_op

#: Planted values: distinctive enough that finding them in a message cannot be a coincidence.
PLANTED_TEXT = "Zq7xPlanted4471"
PLANTED_NUMBER = 987654.25
BATCH_SIZES = (1, 7)


class OpCheckFailed(AssertionError):
    """An op broke one of the checks; the message names the op and the check."""


@dataclass
class OpCheckReport:
    """What ``check_op`` ran: the checks that passed, and the probes the op accepted without an error."""

    op: str
    passed: list[str] = field(default_factory=list)
    accepted_probes: list[str] = field(default_factory=list)
    raised_probes: list[str] = field(default_factory=list)


def sample_input(op_cls: type[ColumnOp] | type[TableOp], n: int = 40) -> pd.Series | pd.DataFrame:
    """A small numeric sample for the op's kind: a float column, or a frame of two numeric and one text column."""
    x = pd.Series((np.arange(n) % 13) * 3.5 + 1.0, name="x")
    if issubclass(op_cls, ColumnOp):
        return x
    return pd.DataFrame({"x": x, "y": (np.arange(n) * 7) % 11 + 20, "z": [f"c{i % 4}" for i in range(n)]})


def default_context(column: str = "x") -> FitContext:
    return FitContext(column=column, seed=20240601, reference_date=date(2024, 1, 1), base_dir=Path.cwd())


def _resolve(op: str | type[ColumnOp] | type[TableOp]) -> type[ColumnOp] | type[TableOp]:
    return get_op(op) if isinstance(op, str) else op


def _build(op_cls, params: OpParams | dict[str, Any] | None):
    if isinstance(params, OpParams):
        return op_cls(params)
    return op_cls(op_cls.Params(**(params or {})))


def _assert_same(left, right, check: str, what: str, name: str) -> None:
    try:
        if isinstance(left, pd.DataFrame):
            pd.testing.assert_frame_equal(left, right)
        else:
            pd.testing.assert_series_equal(left, right)
    except AssertionError as exc:
        raise OpCheckFailed(f"op '{name}': {check}: {what}: {exc}") from None


def _plan_json(plan: Any, name: str) -> dict[str, Any]:
    try:
        text = json.dumps(plan, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise OpCheckFailed(f"op '{name}': plan_json: the plan is not strict JSON: {exc}") from None
    restored = json.loads(text)
    if restored != plan:
        raise OpCheckFailed(f"op '{name}': plan_json: the plan changes through json.dumps/loads (tuples, "
                            "non-string keys or numpy scalars); return plain dicts, lists, str, int, float")
    return restored


def _batches(data: pd.Series | pd.DataFrame, size: int) -> list:
    return [data.iloc[i:i + size] for i in range(0, len(data), size)]


def _planted(data: pd.Series | pd.DataFrame, value: Any, column: str | None) -> pd.Series | pd.DataFrame:
    """``data`` with one cell (row 0; in a frame, of ``column`` or the first column) set to ``value``."""
    out = data.copy()
    if isinstance(out, pd.DataFrame):
        col = column or out.columns[0]
        cells = out[col].astype(object)
        cells.iloc[0] = value
        out[col] = cells
        return out
    out = out.astype(object)
    out.iloc[0] = value
    return out


def _traces(value: Any) -> list[str]:
    if isinstance(value, float):
        return [str(value), f"{value:g}", str(int(value))]
    return [str(value)]


def _check_error(op_cls, params, bad: pd.Series | pd.DataFrame, good_plan: dict[str, Any], ctx: FitContext,
                 value: Any, name: str) -> bool:
    """Fit and apply on ``bad``, then apply the good plan to it; True if either raised (and cleanly)."""
    raised = False
    for attempt in ("fit and apply", "apply of the fitted plan"):
        op = _build(op_cls, params)
        try:
            plan = op.fit(bad, ctx) if attempt == "fit and apply" else good_plan
            op.apply(bad, plan, ctx)
        except Exception as exc:   # noqa: BLE001 -- any exception is judged, that is the point
            raised = True
            text = "".join(traceback.format_exception(exc))
            if not isinstance(exc, AnonPipelineError):
                raise OpCheckFailed(f"op '{name}': error_values: {attempt} raised {type(exc).__name__}, not an "
                                    "anon_pipeline error; raise TransformError(column, op, message, n_rows=...) "
                                    "(library messages may quote cell values)") from None
            leaked = [t for t in _traces(value) if t in text]
            if leaked:
                raise OpCheckFailed(f"op '{name}': error_values: the {attempt} error carries the planted data "
                                    f"value; messages may name columns, rules and counts only") from None
    return raised


def check_op(op: str | type[ColumnOp] | type[TableOp], params: OpParams | dict[str, Any] | None = None,
             data: pd.Series | pd.DataFrame | None = None, *, ctx: FitContext | None = None,
             row_local: bool | None = None, seeded: bool = True,
             probes: list[tuple[Any, str | None]] | None = None,
             failing: list[tuple[pd.Series | pd.DataFrame, Any]] | None = None) -> OpCheckReport:
    """Run every check that applies to ``op``; raise ``OpCheckFailed`` (an ``AssertionError``) at the first break.

    ``params``: a Params instance or its fields (default: the Params defaults). ``data``: the sample (default:
    ``sample_input``). ``row_local``: whether apply is row by row (default: the op's ``value_wise``; always
    False for a table op). ``probes``: (planted value, column or None) pairs planted in row 0 of ``data``
    (default: a distinctive text and a distinctive number). ``failing``: extra (input, planted value) pairs
    built by the caller, e.g. a date after the reference date.
    """
    op_cls = _resolve(op)
    name = getattr(op_cls, "name", op_cls.__name__)
    report = OpCheckReport(op=name)
    data = sample_input(op_cls) if data is None else data
    ctx = ctx or default_context(str(data.name) if isinstance(data, pd.Series) and data.name else "x")
    is_column = issubclass(op_cls, ColumnOp)
    if row_local is None:
        row_local = is_column and bool(getattr(op_cls, "value_wise", False))
    if row_local and not is_column:
        raise ValueError("row_local applies to column ops only")

    first = _build(op_cls, params)
    plan = first.fit(data, ctx)
    out = first.apply(data, plan, ctx)
    stored = _plan_json(plan, name)
    report.passed.append("plan_json")

    _assert_same(out, _build(op_cls, params).apply(data, stored, ctx), "replay", "apply with the stored plan differs", name)
    report.passed.append("replay")

    if seeded:
        again = _build(op_cls, params)
        _assert_same(out, again.apply(data, again.fit(data, ctx), ctx), "seeded", "same seed, different result", name)
    else:
        _assert_same(out, first.apply(data, stored, ctx), "seeded", "apply from one plan does not repeat", name)
    report.passed.append("seeded")

    if row_local:
        for size in (*BATCH_SIZES, len(data)):
            pieces = [first.apply(part, stored, ctx) for part in _batches(data, size)]
            _assert_same(out, pd.concat(pieces), "batches", f"batches of {size} differ from one apply", name)
        if getattr(op_cls, "value_wise", False):
            _assert_same(out, apply_op(first, data, stored, ctx), "batches",
                         "the once-per-distinct-value path differs", name)
        report.passed.append("batches")

    cases = [(_planted(data, v, col), v) for v, col in (probes if probes is not None
                                                       else [(PLANTED_TEXT, None), (PLANTED_NUMBER, None)])]
    for i, (bad, value) in enumerate([*cases, *(failing or [])]):
        raised = _check_error(op_cls, params, bad, stored, ctx, value, name)
        if not raised and i >= len(cases):
            raise OpCheckFailed(f"op '{name}': error_values: failing input {i - len(cases)} did not fail")
        (report.raised_probes if raised else report.accepted_probes).append(str(value))
    report.passed.append("error_values")
    return report
