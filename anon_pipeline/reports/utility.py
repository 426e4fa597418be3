"""The utility report: per column, the distribution before and after, and how much information was lost.

Before-side figures are aggregates (distinct count, entropy, mean, spread); the raw values of quasi-identifiers
are never listed. The after-side lists the released (generalised) categories with their counts. A column coded by
a pseudonymising op (``encode``, ``pseudonym``) never gets its raw distribution: beside the coded one it is a code
book, mapping codes back to labels by their counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.dp.utility import dp_utility
from anon_pipeline.metrics.counted import TableCounts
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


def _numeric(dtype) -> bool:
    kind = dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype
    return pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)


def _side(counts: pd.Series, dtype) -> dict[str, Any]:
    """Figures of one column from its value counts (missing values under a missing index entry)."""
    present = counts[counts.index.notna()]
    out: dict[str, Any] = {"n": int(counts.sum()), "missing": int(counts[counts.index.isna()].sum()),
                           # Counts of zero are a categorical's unused categories: they are no value of the column.
                           "distinct": int((present > 0).sum()),
                           "entropy_bits": round(entropy_bits(counts, counts), 6)}
    if _numeric(dtype):
        x, w = present.index.to_numpy(dtype=np.float64), present.to_numpy(dtype=np.float64)
        n = w.sum()
        mean = float((w * x).sum() / n) if n else float("nan")
        out.update({"mean": mean, "std": float(np.sqrt((w * (x - mean) ** 2).sum() / (n - 1))) if n > 1
                    else float("nan")})
    return out


def _labelled(counts: pd.Series) -> pd.Series:
    """Counts per printed value (missing values as ``<missing>``): two values that print the same are one."""
    labels = pd.Index(counts.index).astype("str").fillna("<missing>") if len(counts) else counts.index
    return counts.groupby(labels).sum() if len(counts) else counts


def _distribution(counts: pd.Series, min_count: int = 1) -> dict[str, int] | None:
    """Counts per category, or None for columns with too many categories to list; categories below
    ``min_count`` rows are pooled into one entry."""
    if len(counts) > MAX_CATEGORIES_LISTED + 1:
        return None
    counts = _labelled(counts[counts > 0])
    if len(counts) > MAX_CATEGORIES_LISTED:
        return None
    rare = counts[counts < min_count]
    out = {str(k): int(v) for k, v in counts[counts >= min_count].sort_index().items()}
    if len(rare):
        out[POOLED] = int(rare.sum())
    return out


def _counts(table: pd.DataFrame | TableCounts) -> TableCounts:
    return table if isinstance(table, TableCounts) else TableCounts.of(table, [])


def domain_preserving_columns(qi_table: pd.DataFrame | TableCounts, anonymised: pd.DataFrame | TableCounts,
                              policy: Policy) -> list[str]:
    """Quasi-identifiers whose released values live in the same domain as before: synthesised group members, and
    numeric columns that stay numeric (noise, top-coding)."""
    before, after = _dtypes(qi_table), _dtypes(anonymised)
    grouped = {c for g in policy.groups for c in g.columns}
    return [name for name in policy.quasi_identifiers
            if name in grouped or (_numeric(before[name]) and _numeric(after[policy.output_name(name)]))]


def _dtypes(table: pd.DataFrame | TableCounts) -> dict[str, Any]:
    return table.dtypes if isinstance(table, TableCounts) else dict(table.dtypes)


def needs_rows(qi_table: pd.DataFrame | TableCounts, anonymised: pd.DataFrame | TableCounts, policy: Policy) -> bool:
    """Whether the report compares distributions row by row (noise and synthesis keep a column's domain; DP
    synthesis): then it reads the tables whole, not their counts."""
    return bool(policy.groups or domain_preserving_columns(qi_table, anonymised, policy))


def utility_report(qi_table: pd.DataFrame | TableCounts, anonymised: pd.DataFrame | TableCounts, policy: Policy,
                   before_group_steps: pd.DataFrame | None = None, plan_summary: dict[str, Any] | None = None,
                   rows: Callable[[], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]] | None = None
                   ) -> dict[str, Any]:
    """Per released column, the figures before and after from their value counts; where a column keeps its
    domain, the distributions compared (``rows``: the qi, anonymised and before_group_steps tables in memory, asked
    for only then, when the tables were given as counts)."""
    before_counts, after_counts = _counts(qi_table), _counts(anonymised)
    columns: dict[str, Any] = {}
    for name in policy.kept_columns:
        spec = policy.columns[name]
        out_name = policy.output_name(name)
        before, after = before_counts.columns[name], after_counts.columns[out_name]
        entry: dict[str, Any] = {"role": spec.role.value, "output": out_name,
                                 "ops": [s.op for s in spec.steps],
                                 "before": _side(before, before_counts.dtypes[name]),
                                 "after": _side(after, after_counts.dtypes[out_name]),
                                 "after_distribution": _distribution(after)}
        if pseudonymised(spec.steps):
            entry["pseudonymisation"] = PSEUDONYMISATION_NOTE
        elif not _numeric(before_counts.dtypes[name]):
            entry["before_distribution"] = _distribution(before, MIN_CATEGORY_COUNT)
        h_before = entry["before"]["entropy_bits"]
        entry["entropy_retained"] = round(entry["after"]["entropy_bits"] / h_before, 6) if h_before > 0 else 1.0
        if spec.role is not Role.quasi_identifier and not spec.steps:
            # Unchanged columns: the total-variation distance shows rows lost to suppression, if any.
            p, q = _labelled(before), _labelled(after)
            p, q = p / p.sum(), q / q.sum()
            entry["total_variation"] = round(float(0.5 * p.subtract(q, fill_value=0).abs().sum()), 6)
        columns[out_name] = entry
    report = {"policy": policy.name, "rows_before": before_counts.n_rows, "rows_after": after_counts.n_rows,
              "columns": columns}
    if not needs_rows(before_counts, after_counts, policy):
        return report
    if isinstance(qi_table, pd.DataFrame) and isinstance(anonymised, pd.DataFrame):
        qi_rows, anon_rows = qi_table, anonymised
    else:
        assert rows is not None, "the distributions need the tables' rows"
        qi_rows, anon_rows, before_group_steps = rows()
    comparable = domain_preserving_columns(qi_rows, anon_rows, policy)
    if comparable:
        # Noise and synthesis keep a column's domain, so KL divergence (Borisov et al. 2023) and association
        # matrices apply.
        before_rows = qi_rows.copy()
        if before_group_steps is not None:
            grouped = [c for g in policy.groups for c in g.columns]
            before_rows[grouped] = before_group_steps[grouped]
        anon = anon_rows.rename(columns={policy.output_name(c): c for c in comparable})
        groups = {g.name: [c for c in g.columns if c in comparable] for g in policy.groups}
        report["distribution"] = distribution_report(before_rows[comparable], anon[comparable], comparable,
                                                     groups={k: v for k, v in groups.items() if v} or None,
                                                     seed=policy.seed)
    dp = dp_utility(qi_rows if before_group_steps is None else before_group_steps, anon_rows, policy)
    if dp:
        report["dp_utility"] = dp
    return report


def utility_markdown(report: dict[str, Any]) -> str:
    lines = ["| column | role | ops | distinct before -> after | entropy retained |", "|---|---|---|---|---|"]
    for name, c in report["columns"].items():
        lines.append(f"| {name} | {c['role']} | {' > '.join(c['ops']) or '-'} | "
                     f"{c['before']['distinct']} -> {c['after']['distinct']} | {c['entropy_retained']:.3f} |")
    return "\n".join(lines)
