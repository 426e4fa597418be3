"""Per-column agreement of raw and anonymised marginals, as complements in [0, 1] (1 = identical):
1 - Kolmogorov-Smirnov statistic for numeric columns (scipy.stats.ks_2samp), 1 - total-variation distance
for categorical columns (missing is a category)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.stats.floats import as_float


def ks_complement(raw: pd.Series, anon: pd.Series) -> float:
    a = as_float(raw)
    b = as_float(anon)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    from scipy.stats import ks_2samp  # imported on use: scipy.stats costs seconds at start-up

    return float(1.0 - ks_2samp(a, b).statistic)


def tv_complement(raw: pd.Series, anon: pd.Series) -> float:
    both = pd.concat([raw, anon], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=False)
    p = np.bincount(codes[:len(raw)], minlength=len(uniques)) / max(len(raw), 1)
    q = np.bincount(codes[len(raw):], minlength=len(uniques)) / max(len(anon), 1)
    return float(1.0 - 0.5 * np.abs(p - q).sum())
