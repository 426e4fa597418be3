"""Nearest released rows of attacked records, by anonymeter's Gower-like mixed distance.

Distance between two records (anonymeter's ``neighbors/mixed_types_kneighbors.py``): over numeric columns,
|a - b| divided by the column's range over both tables (so each term is at most 1); over categorical columns,
1 when the values differ; two missing numbers count 1, one missing number makes the records incomparable
(ranked last). The search is brute force in numpy, a block of attacked records at a time, against the distinct
released rows only (identical rows are equally near). Ties are broken by a random order of the released rows,
drawn per search from the seeded generator: anonymeter's ``argsort`` leaves their order arbitrary, and a fixed
order (always the first row) would favour linking two halves of a record through the same row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.attacks.tables import encode
from anon_pipeline.metrics.k_anonymity import encode_codes

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


def distances(columns, ranges: list[float], cand_rows: np.ndarray, rows: slice) -> np.ndarray:
    """Distances of queries[rows] (table 1) to the candidates ``cand_rows`` of table 0."""
    dist = np.zeros((rows.stop - rows.start, len(cand_rows)))
    for col, span in zip(columns, ranges):
        cand, query = col.values[0][cand_rows], col.values[1][rows]
        if col.numeric:
            term = np.abs(query[:, None] - cand[None, :]) / span
            cand_missing, query_missing = col.missing[0][cand_rows], col.missing[1][rows]
            if cand_missing.any() and query_missing.any():
                term[query_missing[:, None] & cand_missing[None, :]] = 1.0
            dist += term
        else:
            dist += query[:, None] != cand[None, :]
    dist[np.isnan(dist)] = np.inf
    return dist


def _smallest(key: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the k smallest keys of every row (any order)."""
    if k >= key.shape[1]:
        return np.broadcast_to(np.arange(key.shape[1]), key.shape).copy()
    return np.argpartition(key, k - 1, axis=1)[:, :k]


def nearest(candidates: pd.DataFrame, queries: pd.DataFrame, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (queries x k) of the k nearest candidates of every query, nearest first."""
    n_cand = len(candidates)
    k = min(k, n_cand)
    names = list(candidates.columns)
    columns = encode([candidates, queries], names)
    ranges = spans(columns)
    rank = rng.permutation(n_cand)
    # Distinct candidate rows ("groups"), each with its members in tie order; a group ranks by its first member.
    gid = encode_codes(candidates.reset_index(drop=True), names)
    order = np.lexsort((rank, gid))
    sorted_gid = gid[order]
    starts = np.flatnonzero(np.r_[True, sorted_gid[1:] != sorted_gid[:-1]])
    sizes = np.diff(np.r_[starts, n_cand])
    members = np.full((len(starts), k), -1, dtype=np.int64)
    for j in range(k):
        members[:, j] = np.where(j < sizes, order[np.minimum(starts + j, n_cand - 1)], -1)
    champion = members[:, 0]
    champion_rank = rank[champion].astype(np.float64)
    kg = min(k, len(starts))
    out = np.empty((len(queries), k), dtype=np.int64)
    block = max(1, BLOCK_CELLS // max(len(starts), 1))
    for start in range(0, len(queries), block):
        rows = slice(start, min(start + block, len(queries)))
        dist = distances(columns, ranges, champion, rows)
        # The k nearest rows lie in the k nearest groups (by distance, then their first member's rank).
        kth = np.partition(dist, kg - 1, axis=1)[:, kg - 1:kg]
        top = _smallest(np.where(dist < kth, -1.0, np.where(dist == kth, champion_rank, np.inf)), kg)
        cand = members[top].reshape(len(top), -1)
        cand_dist = np.where(cand >= 0, np.repeat(np.take_along_axis(dist, top, 1), k, axis=1), np.inf)
        cand_rank = np.where(cand >= 0, rank[cand], n_cand)  # a group's padding (-1) sorts after every row
        pick = np.lexsort((cand_rank, cand_dist), axis=1)[:, :k]
        out[rows] = np.take_along_axis(cand, pick, 1)
    return out
