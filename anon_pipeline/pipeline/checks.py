"""The checks a run must pass before anything is released, as plain functions returning ``CheckOutcome``.

The Dagster layer turns each outcome into an ``AssetCheckResult``; ``run_policy`` uses them directly. Metadata
holds measured values, targets, counts and column names, never data values of the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from anon_pipeline.metrics import k_anonymity
from anon_pipeline.pipeline.anonymise import anonymised_schema
from anon_pipeline.pipeline.qi_table import validate_table
from anon_pipeline.policy.model import Policy


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def failure_reason(self) -> str:
        return f"{self.description} ({', '.join(f'{k}={v}' for k, v in self.metadata.items() if k in _SUMMARY)})"


_SUMMARY = ("K", "k_target", "rows_below_k", "leaked_cells", "columns", "problems")


def k_quasi_identifier_outputs(policy: Policy) -> list[str]:
    return [policy.output_name(c) for c in policy.k_quasi_identifiers]


def check_k_anonymity(anonymised: pd.DataFrame, policy: Policy) -> CheckOutcome:
    qis = k_quasi_identifier_outputs(policy)
    result = k_anonymity(anonymised, qis)
    target = policy.privacy.k
    passed = target is None or result.K >= target
    meta = {"K": result.K, "k_target": target, "k_percent": round(result.k_percent, 4), "N": result.n_rows,
            "n_classes": result.n_classes, "quasi_identifiers": qis}
    if target is not None:
        meta["rows_below_k"] = result.rows_below(target)
        meta["classes_below_k"] = result.classes_below(target)
    if target is None:
        text = f"K = {result.K} (no k target set)"
    else:
        text = f"K = {result.K} {'>=' if passed else '<'} k = {target} over {', '.join(qis)}"
    return CheckOutcome("k_anonymity", passed, True, text, meta)


def _cell_strings(frame: pd.DataFrame) -> set[str]:
    values: set[str] = set()
    for column in frame.columns:
        values.update(frame[column].dropna().astype("str").str.strip().unique().tolist())
    return values


def check_no_identifier_leak(raw: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy) -> CheckOutcome:
    """No value of any direct-identifier column of the input occurs as a cell anywhere in ``anonymised``."""
    identifiers = [c for c in policy.identifiers if c in raw.columns]
    secrets_ = _cell_strings(raw[identifiers]) - {""}
    leaked_columns = []
    leaked_cells = 0
    for column in anonymised.columns:
        cells = anonymised[column].dropna().astype("str").str.strip()
        hit = cells.isin(secrets_)
        if hit.any():
            leaked_columns.append(column)
            leaked_cells += int(hit.sum())
    passed = leaked_cells == 0
    text = ("no identifier value occurs in the anonymised table" if passed else
            f"{leaked_cells} cell(s) in column(s) {leaked_columns} equal a direct-identifier value of the input")
    return CheckOutcome("no_identifier_leak", passed, True, text,
                        {"identifier_columns": identifiers, "leaked_cells": leaked_cells, "columns": leaked_columns})


def check_schema(name: str, frame: pd.DataFrame, schema) -> CheckOutcome:
    problems = validate_table(frame, schema, name)
    text = "conforms to its schema" if not problems else f"{len(problems)} schema rule(s) broken"
    return CheckOutcome(f"{name}_schema", not problems, True, text,
                        {"problems": problems, "rows": len(frame), "columns": len(frame.columns)})


def check_anonymised_schema(anonymised: pd.DataFrame, policy: Policy) -> CheckOutcome:
    return check_schema("anonymised", anonymised, anonymised_schema(policy))


def staging_checks(raw: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy) -> list[CheckOutcome]:
    """Every check on the anonymised (staging) table."""
    return [check_anonymised_schema(anonymised, policy), check_k_anonymity(anonymised, policy),
            check_no_identifier_leak(raw, anonymised, policy)]
