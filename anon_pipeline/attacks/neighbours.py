"""Nearest released rows of attacked records, by anonymeter's Gower-like mixed distance.

Distance between two records (anonymeter's ``neighbors/mixed_types_kneighbors.py``): over numeric columns,
|a - b| divided by the column's range over both tables (so each term is at most 1); over categorical columns,
1 when the values differ; two missing numbers count 1, one missing number makes the records incomparable
(ranked last). The search is brute force, a block of attacked records at a time against every released row, in
numpy. Ties are broken at random (seeded): anonymeter's ``argsort`` leaves their order arbitrary, and a fixed
order (the first row) would systematically favour linking two halves through the same row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.attacks.tables import encode

#: distance-matrix cells per block: a few tens of MB of float64 at a time
BLOCK_CELLS = 2_000_000


def spans(columns) -> list[float]:
    """Range of every numeric column over both tables (1 where it is 0 or undefined), as anonymeter scales."""
    out = []
    for col in columns:
        both = np.concatenate(col.values) if col.numeric else np.zeros(0)
        span = float(np.nanmax(both) - np.nanmin(both)) if np.isfinite(both).any() else 0.0
        out.append(span if span > 0 else 1.0)
    return out


def distances(columns, ranges: list[float], rows: slice) -> np.ndarray:
    """Distances of queries[rows] (table 1) to every candidate (table 0)."""
    dist = np.zeros((rows.stop - rows.start, len(columns[0].values[0]) if columns else 0))
    for col, span in zip(columns, ranges):
        cand, query = col.values[0], col.values[1][rows]
        if col.numeric:
            term = np.abs(query[:, None] - cand[None, :]) / span
            if col.missing[0].any() and col.missing[1][rows].any():
                term[col.missing[1][rows][:, None] & col.missing[0][None, :]] = 1.0
            dist += term
        else:
            dist += query[:, None] != cand[None, :]
    dist[np.isnan(dist)] = np.inf
    return dist


def nearest(candidates: pd.DataFrame, queries: pd.DataFrame, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (queries x k) of the k nearest candidates of every query, nearest first."""
    n_cand = len(candidates)
    k = min(k, n_cand)
    columns = encode([candidates, queries], list(candidates.columns))
    ranges = spans(columns)
    out = np.empty((len(queries), k), dtype=np.int64)
    block = max(1, BLOCK_CELLS // max(n_cand, 1))
    for start in range(0, len(queries), block):
        rows = slice(start, min(start + block, len(queries)))
        dist = distances(columns, ranges, rows)
        tie = rng.random(dist.shape)
        kth = np.partition(dist, k - 1, axis=1)[:, k - 1:k]
        # Every candidate strictly nearer than the k-th distance is in; ties at it are drawn by ``tie``.
        key = np.where(dist < kth, -1.0, np.where(dist == kth, tie, np.inf))
        top = np.argpartition(key, k - 1, axis=1)[:, :k] if k < n_cand else np.tile(np.arange(n_cand), (len(key), 1))
        order = np.lexsort((np.take_along_axis(tie, top, 1), np.take_along_axis(dist, top, 1)), axis=1)
        out[rows] = np.take_along_axis(top, order, 1)
    return out
