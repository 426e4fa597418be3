"""The utility report: per column, the distribution before and after, and how much information was lost.

Before-side figures are aggregates (distinct count, entropy, mean, spread); the raw values of quasi-identifiers
are never listed. The after-side lists the released (generalised) categories with their counts. A column coded by
a pseudonymising op (``encode``, ``pseudonym``) never gets its raw distribution: beside the coded one it is a code
book, mapping codes back to labels by their counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.dp.utility import dp_utility
from anon_pipeline.policy.model import Policy, Role
from anon_pipeline.transforms.registry import get_op
from anon_pipeline.utility import utility_report as distribution_report

MAX_CATEGORIES_LISTED = 50
#: Raw categories rarer than this are pooled, so the before-side distribution never singles out a few people.
MIN_CATEGORY_COUNT = 5
POOLED = "<categories with fewer than 5 rows>"
PSEUDONYMISATION_NOTE = ("encoding is pseudonymisation, not anonymisation: the codes hide the labels but not their "
                         "frequencies (anyone who knows the population can map codes to labels by frequency rank), "
                         "and they protect nothing against linkage; the raw distribution is not listed")


def pseudonymised(steps) -> bool:
    """Whether a column's chain has a step whose op declares itself pseudonymising."""
    return any(getattr(get_op(step.op), "pseudonymising", False) for step in steps)


def entropy_bits(values: pd.Series, counts: pd.Series | None = None) -> float:
    """Shannon entropy of the values, missing ones a value of their own (``counts``: their value counts, when
    the caller has them already)."""
    counts = values.value_counts(dropna=False) if counts is None else counts
    p = (counts / counts.sum()).to_numpy()
    p = p[p > 0]  # a categorical's unused categories: 0 log 0 = 0
    return float(-(p * np.log2(p)).sum()) if p.size else 0.0


def _side(values: pd.Series, counts: pd.Series | None = None) -> dict[str, Any]:
    counts = values.value_counts(dropna=False) if counts is None else counts
    # Counts of zero are a categorical's unused categories: they are no value of the column.
    distinct = int((counts[counts.index.notna()] > 0).sum())
    out: dict[str, Any] = {"n": int(len(values)), "missing": int(values.isna().sum()),
                           "distinct": distinct, "entropy_bits": round(entropy_bits(values, counts), 6)}
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        x = values.astype("Float64")
        out.update({"mean": float(x.mean()), "std": float(x.std())})
    return out


def _distribution(values: pd.Series, min_count: int = 1, counts: pd.Series | None = None) -> dict[str, int] | None:
    """Counts per category, or None for columns with too many categories to list; categories below
    ``min_count`` rows are pooled into one entry. ``counts``: the column's value counts (missing values
    included), when the caller has them: then text columns are not counted twice, and columns with far too
    many values are not turned into text at all."""
    if counts is not None and isinstance(values.dtype, pd.StringDtype):
        counts = counts.rename(index=lambda v: "<missing>" if pd.isna(v) else v).groupby(level=0).sum()
    elif counts is not None and len(counts) > MAX_CATEGORIES_LISTED + 1 and not (
            values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype)):
        # Distinct numbers, dates and booleans print as distinct text: still too many once printed.
        return None
    else:
        counts = values.astype("str").fillna("<missing>").value_counts(dropna=False)
    if len(counts) > MAX_CATEGORIES_LISTED:
        return None
    rare = counts[counts < min_count]
    out = {str(k): int(v) for k, v in counts[counts >= min_count].sort_index().items()}
    if len(rare):
        out[POOLED] = int(rare.sum())
    return out


def domain_preserving_columns(qi_table: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy) -> list[str]:
    """Quasi-identifiers whose released values live in the same domain as before: synthesised group members, and
    numeric columns that stay numeric (noise, top-coding)."""
    grouped = {c for g in policy.groups for c in g.columns}
    out = []
    for name in policy.quasi_identifiers:
        after = anonymised[policy.output_name(name)]
        numeric = pd.api.types.is_numeric_dtype(qi_table[name]) and pd.api.types.is_numeric_dtype(after)
        if name in grouped or numeric:
            out.append(name)
    return out


def utility_report(qi_table: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy,
                   before_group_steps: pd.DataFrame | None = None, plan_summary: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name in policy.kept_columns:
        spec = policy.columns[name]
        out_name = policy.output_name(name)
        before, after = qi_table[name], anonymised[out_name]
        # Each side counted once: the figures and the distribution come from the same counts.
        before_counts, after_counts = before.value_counts(dropna=False), after.value_counts(dropna=False)
        entry: dict[str, Any] = {"role": spec.role.value, "output": out_name,
                                 "ops": [s.op for s in spec.steps], "before": _side(before, before_counts),
                                 "after": _side(after, after_counts),
                                 "after_distribution": _distribution(after, counts=after_counts)}
        if pseudonymised(spec.steps):
            entry["pseudonymisation"] = PSEUDONYMISATION_NOTE
        elif not pd.api.types.is_numeric_dtype(before):
            entry["before_distribution"] = _distribution(before, MIN_CATEGORY_COUNT, before_counts)
        h_before = entry["before"]["entropy_bits"]
        entry["entropy_retained"] = round(entry["after"]["entropy_bits"] / h_before, 6) if h_before > 0 else 1.0
        if spec.role is not Role.quasi_identifier and not spec.steps:
            # Unchanged columns: the total-variation distance shows rows lost to suppression, if any.
            p = before.astype("str").value_counts(normalize=True)
            q = after.astype("str").value_counts(normalize=True)
            entry["total_variation"] = round(float(0.5 * p.subtract(q, fill_value=0).abs().sum()), 6)
        columns[out_name] = entry
    report = {"policy": policy.name, "rows_before": len(qi_table), "rows_after": len(anonymised), "columns": columns}
    comparable = domain_preserving_columns(qi_table, anonymised, policy)
    if comparable:
        # Noise and synthesis keep a column's domain, so KL divergence (Borisov et al. 2023) and association
        # matrices apply.
        before = qi_table.copy()
        if before_group_steps is not None:
            grouped = [c for g in policy.groups for c in g.columns]
            before[grouped] = before_group_steps[grouped]
        anon = anonymised.rename(columns={policy.output_name(c): c for c in comparable})
        groups = {g.name: [c for c in g.columns if c in comparable] for g in policy.groups}
        report["distribution"] = distribution_report(before[comparable], anon[comparable], comparable,
                                                     groups={k: v for k, v in groups.items() if v} or None,
                                                     seed=policy.seed)
    dp = dp_utility(qi_table if before_group_steps is None else before_group_steps, anonymised, policy)
    if dp:
        report["dp_utility"] = dp
    return report


def utility_markdown(report: dict[str, Any]) -> str:
    lines = ["| column | role | ops | distinct before -> after | entropy retained |", "|---|---|---|---|---|"]
    for name, c in report["columns"].items():
        lines.append(f"| {name} | {c['role']} | {' > '.join(c['ops']) or '-'} | "
                     f"{c['before']['distinct']} -> {c['after']['distinct']} | {c['entropy_retained']:.3f} |")
    return "\n".join(lines)
