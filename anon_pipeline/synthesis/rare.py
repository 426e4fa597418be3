"""Rare-value suppression ("anomaly elimination", Borisov et al. 2023) for dictionary attributes.

With n distinct values and level T %, a value must cover at least T/n % of the rows; rarer values merge into
one neutral value. The fitted plan keeps only the frequent values (common by construction) and the counts of
what was merged, never the rare values themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RareMerge:
    keep: list                 # the values that stay (each covers >= threshold_percent of rows)
    n_values: int
    threshold_percent: float   # T / n
    merged_values: int
    merged_rows: int

    def as_dict(self) -> dict:
        return {"keep": list(self.keep), "n_values": self.n_values, "threshold_percent": self.threshold_percent,
                "merged_values": self.merged_values, "merged_rows": self.merged_rows}


def fit_rare_merge(values: pd.Series, level: float = 10.0, weights: np.ndarray | None = None) -> RareMerge:
    """Which values cover fewer than level/n % of the non-missing rows (n = number of distinct values); each value
    of ``values`` stands for ``weights`` rows (default one), so distinct values with their counts fit alike."""
    if weights is None:
        counts = values.value_counts(dropna=True)
    else:
        counts = pd.Series(np.asarray(weights, dtype=np.int64), index=values.to_numpy())
        counts = counts[values.notna().to_numpy()].groupby(level=0, sort=False).sum().sort_values(
            ascending=False, kind="stable")
    total = int(counts.sum())
    n = int(len(counts))
    threshold = level / n if n else 0.0
    share = 100.0 * counts / total if total else counts.astype(float)
    rare = share < threshold
    keep = [v.item() if hasattr(v, "item") else v for v in counts.index[~rare]]
    return RareMerge(keep=keep, n_values=n, threshold_percent=float(threshold),
                     merged_values=int(rare.sum()), merged_rows=int(counts[rare].sum()))


def apply_rare_merge(values: pd.Series, keep: list, neutral: str) -> pd.Series:
    """Every non-missing value outside ``keep`` becomes ``neutral`` (unseen values too, on replay)."""
    stays = values.isin(keep) | values.isna()
    return values.astype(object).where(stays, neutral).astype("str" if values.dtype == "str" else object)
