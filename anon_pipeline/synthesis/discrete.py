"""Discrete synthesis (Borisov et al. 2023): i.i.d. draws from the empirical joint distribution.

Drawing a row index uniformly and copying its tuple is the same as drawing tuple x_l with probability
p_l = count(x_l) / N, and it keeps every column's dtype. ``min_count`` leaves tuples rarer than that out of
the distribution (they are exactly the tuples whose copies could single out a real person).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.metrics.k_anonymity import encode_codes


@dataclass(frozen=True)
class SamplingPool:
    """Which raw rows may be drawn, and what leaving rare tuples out cost."""

    rows: np.ndarray           # positional indices of eligible rows
    n_tuples: int              # distinct tuples in the input
    excluded_tuples: int       # tuples rarer than min_count, left out
    excluded_rows: int         # rows carrying them


def sampling_pool(frame: pd.DataFrame, min_count: int = 1) -> SamplingPool:
    """Rows whose tuple (over all columns of ``frame``; missing is a value) occurs at least ``min_count`` times."""
    codes = encode_codes(frame, list(frame.columns))
    sizes = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    keep = sizes[codes] >= min_count
    return SamplingPool(rows=np.flatnonzero(keep), n_tuples=int(sizes.size),
                        excluded_tuples=int(np.sum((sizes > 0) & (sizes < min_count))),
                        excluded_rows=int(np.sum(~keep)))


def sample_discrete(frame: pd.DataFrame, n: int, rng: np.random.Generator, *, min_count: int = 1,
                    index: pd.Index | None = None) -> pd.DataFrame:
    """``n`` synthetic rows drawn i.i.d. from the joint frequencies of ``frame``'s distinct tuples.

    The result carries ``index`` (default: ``frame.index`` when ``n == len(frame)``, else a RangeIndex).
    """
    pool = sampling_pool(frame, min_count) if min_count > 1 else None
    rows = np.arange(len(frame)) if pool is None else pool.rows
    if len(rows) == 0:
        raise ValueError(f"no tuple occurs at least {min_count} times; nothing to sample from")
    picked = rows[rng.integers(0, len(rows), size=n)]
    out = frame.iloc[picked]
    if index is None:
        index = frame.index if n == len(frame) else pd.RangeIndex(n)
    return out.set_axis(index, axis=0)
