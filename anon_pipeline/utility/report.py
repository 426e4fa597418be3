"""The utility report: how much of the raw data's distributions and dependences the anonymised table kept.

``utility_report(raw, anon, columns, groups=None, seed=0)`` returns a JSON-serialisable dict with, per
column, the KS complement (numeric) or TV complement (categorical) and the KL divergence; per group, the KL
of the joint distribution (discrete, continuous or mixed); and the association matrices before and after
with their deltas. It holds figures and column names only, never data values.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from anon_pipeline.utility.association import association_matrix, is_numeric
from anon_pipeline.utility.kl import DEFAULT_MAX_CENTRES, DEFAULT_MC_SAMPLES, kl_continuous, kl_discrete
from anon_pipeline.utility.marginals import ks_complement, tv_complement
from anon_pipeline.jsonable import jsonable


def is_continuous(series: pd.Series) -> bool:
    """Float and datetime columns are treated as continuous by default; integers and the rest as discrete."""
    return pd.api.types.is_float_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)


def _matrix(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(a): {str(b): float(frame.loc[a, b]) for b in frame.columns} for a in frame.index}


def group_kl(raw: pd.DataFrame, anon: pd.DataFrame, columns: list[str], continuous: set[str], *,
             seed: int = 0, mc_samples: int = DEFAULT_MC_SAMPLES, max_centres: int = DEFAULT_MAX_CENTRES) -> dict:
    """KL of a column group: the discrete sum when no column is continuous, else the Monte Carlo estimate."""
    cont = [c for c in columns if c in continuous]
    disc = [c for c in columns if c not in continuous]
    if not cont:
        return kl_discrete(raw, anon, disc).as_dict()
    return kl_continuous(raw, anon, cont, disc, mc_samples=mc_samples, max_centres=max_centres,
                         seed=seed).as_dict()


def utility_report(raw_df: pd.DataFrame, anon_df: pd.DataFrame, columns: list[str],
                   groups: dict[str, list[str]] | list[list[str]] | None = None, seed: int = 0, *,
                   continuous: list[str] | None = None, mc_samples: int = DEFAULT_MC_SAMPLES,
                   max_centres: int = DEFAULT_MAX_CENTRES) -> dict:
    """Utility of ``anon_df`` against ``raw_df`` on ``columns`` (same names in both frames).

    ``groups``: named column groups (a list gets names group_0, group_1, ...); ``continuous``: which columns
    the KL treats as continuous (default: float and datetime columns of the raw data). Columns whose kind
    differs between the two frames (a number generalised to a band) are reported as not comparable.
    """
    if groups is None:
        groups = {}
    elif not isinstance(groups, dict):
        groups = {f"group_{i}": list(g) for i, g in enumerate(groups)}
    cont = set(continuous) if continuous is not None else {c for c in columns if is_continuous(raw_df[c])}
    per_column: dict[str, dict] = {}
    comparable: list[str] = []
    for i, col in enumerate(columns):
        raw_num, anon_num = is_numeric(raw_df[col]), is_numeric(anon_df[col])
        if raw_num != anon_num:
            per_column[col] = {"comparable": False, "reason": "numeric in one table, categorical in the other"}
            continue
        comparable.append(col)
        entry: dict[str, Any] = {"comparable": True, "kind": "continuous" if col in cont else "discrete"}
        if raw_num:
            entry["ks_complement"] = ks_complement(raw_df[col], anon_df[col])
        else:
            entry["tv_complement"] = tv_complement(raw_df[col], anon_df[col])
        entry["kl"] = group_kl(raw_df, anon_df, [col], cont, seed=seed + i, mc_samples=mc_samples,
                               max_centres=max_centres)
        per_column[col] = entry
    per_group: dict[str, dict] = {}
    for gi, (name, cols) in enumerate(groups.items()):
        apart = [c for c in cols if c not in comparable]
        # A joint KL needs one domain on both sides: a group generalised into labels has none.
        per_group[name] = {"columns": list(cols), "comparable": False,
                           "reason": f"not comparable before and after: {apart}"} if apart else \
            {"columns": list(cols), **group_kl(raw_df, anon_df, list(cols), cont, seed=seed + 1000 + gi,
                                               mc_samples=mc_samples, max_centres=max_centres)}
    raw_assoc, kinds = association_matrix(raw_df, comparable)
    anon_assoc, _ = association_matrix(anon_df, comparable)
    delta = anon_assoc - raw_assoc
    off_diag = [abs(delta.loc[a, b]) for i, a in enumerate(comparable) for b in comparable[i + 1:]
                if pd.notna(delta.loc[a, b])]
    report = {
        "columns": per_column,
        "groups": per_group,
        "association": {
            "columns": comparable,
            "measure": {str(a): {str(b): str(kinds.loc[a, b]) for b in comparable} for a in comparable},
            "raw": _matrix(raw_assoc), "anonymised": _matrix(anon_assoc), "delta": _matrix(delta),
            "max_abs_delta": max(off_diag) if off_diag else 0.0,
        },
        "settings": {"seed": seed, "mc_samples": mc_samples, "max_centres": max_centres,
                     "continuous": sorted(cont), "kl_definition": "source document C: sum/integral of "
                     "p_anon ln(p_anon / p_raw) over the raw support; continuous by Monte Carlo from the "
                     "anonymised Silverman KDE"},
    }
    return jsonable(report)
