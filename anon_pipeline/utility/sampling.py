"""Seeded subsamples that do not depend on row order.

A pipeline may hand the same table over in any row order (rows leave in random GUID order), so a measure that
subsamples by position would change from run to run. Here every row gets a pseudo-random key computed from its
own values and the seed (splitmix64 mixing of the float bits), and the subsample is the rows with the smallest
keys: uniform for a fixed seed, and identical rows are interchangeable, so the result depends only on the
data and the seed.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_keys(data: np.ndarray, codes: np.ndarray | None, seed: int) -> np.ndarray:
    """One uint64 key per row of the (N, m) float array (plus optional integer codes), mixed with ``seed``."""
    bits = np.ascontiguousarray(data, dtype=np.float64).view(np.uint64)
    columns = list(bits.T) + ([] if codes is None else [np.asarray(codes).astype(np.uint64)])
    with np.errstate(over="ignore"):
        key = np.full(len(data), np.uint64(seed % 2**64) * _GOLDEN, dtype=np.uint64)
        for column in columns:
            key ^= column
            key += _GOLDEN
            key ^= key >> np.uint64(30)
            key *= np.uint64(0xBF58476D1CE4E5B9)
            key ^= key >> np.uint64(27)
            key *= np.uint64(0x94D049BB133111EB)
            key ^= key >> np.uint64(31)
    return key


def order_free_subsample(data: np.ndarray, codes: np.ndarray | None, size: int, seed: int) -> np.ndarray:
    """Positions of at most ``size`` rows: all rows when there are no more than that."""
    if len(data) <= size:
        return np.arange(len(data))
    return np.sort(np.argpartition(row_keys(data, codes, seed), size)[:size])
