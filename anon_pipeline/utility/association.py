"""Pairwise association between columns of mixed type, as one matrix: Pearson's r for two numeric columns,
Cramer's V for two categorical ones, the correlation ratio eta for a categorical/numeric pair.

Values are in [-1, 1] for Pearson and [0, 1] otherwise; the kind of every pair is reported beside the value.
Categorical columns are integer-coded once; all contingency tables are bincounts over the codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats.contingency import association as scipy_association

from anon_pipeline.synthesis.continuous import as_float


def is_numeric(series: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)) or \
        pd.api.types.is_datetime64_any_dtype(series)


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def _numeric(series: pd.Series) -> np.ndarray:
    return as_float(series)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramer's V (scipy.stats.contingency.association) of two categorical columns; missing is a value."""
    ca, na = _codes(a)
    cb, nb = _codes(b)
    table = np.bincount(ca * nb + cb, minlength=na * nb).reshape(na, nb)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    return float(scipy_association(table, method="cramer"))


def correlation_ratio(categories: pd.Series, values: np.ndarray) -> float:
    """eta = sqrt(between-category variance / total variance) of ``values`` across ``categories``."""
    codes, k = _codes(categories)
    ok = ~np.isnan(values)
    codes, values = codes[ok], values[ok]
    if len(values) < 2:
        return float("nan")
    total = np.sum((values - values.mean()) ** 2)
    if total == 0:
        return 0.0
    counts = np.bincount(codes, minlength=k)
    means = np.bincount(codes, weights=values, minlength=k) / np.maximum(counts, 1)
    between = np.sum(counts * (means - values.mean()) ** 2)
    return float(np.sqrt(between / total))


def pair_association(a: pd.Series, b: pd.Series) -> tuple[float, str]:
    na, nb = is_numeric(a), is_numeric(b)
    if na and nb:
        return pearson(_numeric(a), _numeric(b)), "pearson"
    if not na and not nb:
        return cramers_v(a, b), "cramers_v"
    cat, num = (b, a) if na else (a, b)
    return correlation_ratio(cat, _numeric(num)), "correlation_ratio"


def association_matrix(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, kinds): symmetric matrices over ``columns``; the diagonal is 1."""
    values = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    kinds = pd.DataFrame("self", index=columns, columns=columns, dtype=object)
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            v, kind = pair_association(df[a], df[b])
            values.loc[a, b] = values.loc[b, a] = v
            kinds.loc[a, b] = kinds.loc[b, a] = kind
    return values, kinds
