"""Pairwise association between columns of mixed type, as one matrix: Pearson's r for two numeric columns,
Cramer's V for two categorical ones, the correlation ratio eta for a categorical/numeric pair.

Values are in [-1, 1] for Pearson and [0, 1] otherwise; the kind of every pair is reported beside the value.
Categorical columns are integer-coded once; all contingency tables are bincounts over the codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.stats.floats import as_float


def is_numeric(series: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)) or \
        pd.api.types.is_datetime64_any_dtype(series)


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _cramers_v_codes(ca: np.ndarray, na: int, cb: np.ndarray, nb: int) -> float:
    table = np.bincount(ca * nb + cb, minlength=na * nb).reshape(na, nb)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    from scipy.stats.contingency import association  # imported on use: scipy.stats costs seconds at start-up

    return float(association(table, method="cramer"))


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramer's V (scipy.stats.contingency.association) of two categorical columns; missing is a value."""
    return _cramers_v_codes(*_codes(a), *_codes(b))


def _correlation_ratio_codes(codes: np.ndarray, k: int, values: np.ndarray) -> float:
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


def correlation_ratio(categories: pd.Series, values: np.ndarray) -> float:
    """eta = sqrt(between-category variance / total variance) of ``values`` across ``categories``."""
    return _correlation_ratio_codes(*_codes(categories), np.asarray(values, dtype=float))


def _encode(series: pd.Series) -> tuple[bool, tuple]:
    """Each column is encoded once: floats for a numeric column, (codes, count) for a categorical one."""
    return (True, (as_float(series),)) if is_numeric(series) else (False, _codes(series))


def _pair(a: tuple[bool, tuple], b: tuple[bool, tuple]) -> tuple[float, str]:
    (na, ea), (nb, eb) = a, b
    if na and nb:
        return pearson(ea[0], eb[0]), "pearson"
    if not na and not nb:
        return _cramers_v_codes(*ea, *eb), "cramers_v"
    (codes, k), num = (eb, ea) if na else (ea, eb)
    return _correlation_ratio_codes(codes, k, num[0]), "correlation_ratio"


def association_matrix(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, kinds): symmetric matrices over ``columns``; the diagonal is 1."""
    encoded = {c: _encode(df[c]) for c in columns}
    values = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    kinds = pd.DataFrame("self", index=columns, columns=columns, dtype=object)
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            v, kind = _pair(encoded[a], encoded[b])
            values.loc[a, b] = values.loc[b, a] = v
            kinds.loc[a, b] = kinds.loc[b, a] = kind
    return values, kinds
