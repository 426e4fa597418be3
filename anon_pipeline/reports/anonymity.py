"""The anonymity report: K, k = K/N %, class sizes and rows below the target, for raw and anonymised side by side.

"Raw" is the quasi-identifier table (the input's values, identifiers already gone). Only counts leave the raw
side; for the anonymised side the generalised values of the smallest classes may be shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from anon_pipeline.metrics import k_anonymity
from anon_pipeline.metrics.k_eps import k_eps
from anon_pipeline.policy.model import Policy
from anon_pipeline.synthesis.privacy import privacy_report

SMALLEST_CLASSES_SHOWN = 5


def smallest_classes(frame: pd.DataFrame, columns: list[str], n: int = SMALLEST_CLASSES_SHOWN) -> list[dict]:
    sizes = frame.groupby(columns, dropna=False, observed=True).size().sort_values(kind="stable").head(n)
    out = []
    for key, size in sizes.items():
        key = key if isinstance(key, tuple) else (key,)
        out.append({**{c: (None if pd.isna(v) else str(v)) for c, v in zip(columns, key)}, "size": int(size)})
    return out


def anonymity_report(qi_table: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy,
                     generalised: pd.DataFrame | None = None) -> dict[str, Any]:
    inputs = policy.k_quasi_identifiers
    outputs = [policy.output_name(c) for c in inputs]
    target = policy.privacy.k
    raw = k_anonymity(qi_table, inputs).as_dict(target)
    anon = k_anonymity(anonymised, outputs).as_dict(target)
    report: dict[str, Any] = {
        "policy": policy.name,
        "quasi_identifiers": {"input": inputs, "output": outputs},
        "k_target": target,
        "missing_values": "a missing quasi-identifier value counts as a value of its own",
        "raw": raw,
        "anonymised": {**anon, "smallest_classes": smallest_classes(anonymised, outputs)},
        "suppressed_rows": len(qi_table) - len(anonymised),
    }
    report.update(continuous_measures(qi_table if generalised is None else generalised, anonymised, policy))
    return report


def _continuous(policy: Policy, columns: list[str], frame: pd.DataFrame) -> list[str]:
    return [c for c in columns if policy.columns[c].dtype == "float" and pd.api.types.is_float_dtype(frame[c])]


def continuous_measures(before: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy) -> dict[str, Any]:
    """Document C's K_eps where continuous quasi-identifiers stay continuous, and the privacy of synthetic rows
    (copies of raw rows, closest-record distances) where groups were synthesised. ``before`` is the table the
    groups started from (column steps applied), so both sides share a domain."""
    out: dict[str, Any] = {}
    inputs = policy.k_quasi_identifiers
    anon = anonymised.rename(columns={policy.output_name(c): c for c in inputs})
    continuous = _continuous(policy, inputs, anon)
    if continuous and len(_continuous(policy, continuous, before)) == len(continuous):
        level = float(getattr(policy.privacy, "k_eps_level", None) or 10.0)
        discrete = [c for c in inputs if c not in continuous]
        raw_side, anon_side = k_eps(before, continuous, discrete, level), k_eps(anon, continuous, discrete, level)
        out["k_eps"] = {"level_percent": level, "raw": raw_side.as_dict(), "anonymised": anon_side.as_dict()}
    if policy.groups:
        groups = [[c for c in g.columns if c in continuous] for g in policy.groups]
        out["synthetic_rows"] = privacy_report(before, anon, inputs, [g for g in groups if g], seed=policy.seed)
    return out


def anonymity_markdown(report: dict[str, Any]) -> str:
    raw, anon = report["raw"], report["anonymised"]
    rows = [("N (rows)", raw["N"], anon["N"]), ("K", raw["K"], anon["K"]),
            ("k = K/N (%)", f"{raw['k_percent']:.3f}", f"{anon['k_percent']:.3f}"),
            ("classes", raw["n_classes"], anon["n_classes"]), ("category", raw["category"], anon["category"])]
    if report["k_target"] is not None:
        rows.append((f"rows in classes below k={report['k_target']}", raw["rows_below_k"], anon["rows_below_k"]))
    lines = [f"Quasi-identifiers: {', '.join(report['quasi_identifiers']['output'])}", "",
             "| measure | raw (qi_table) | anonymised |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
