"""K_eps (source document C): the smallest eps-neighbourhood count, for tables with continuous attributes.

Row i's neighbourhood holds the rows equal to it on every discrete attribute and within |a_j - a_ij| < eps_j
on every continuous one, eps_j = (max_j - min_j) * T / 200 (T % = insensitivity level, default 10); K_eps is
the smallest neighbourhood size (the row itself included), reported next to K (exact equality on all
attributes) with k = min(K, K_eps) / N.

No all-pairs loop. In coordinates u_j = (a_j - min_j) / eps_j the neighbourhood is an open Chebyshev ball of
radius 1. A grid of cells of side 1/s gives every row a cheap lower bound: all rows in the (2s-1)^m cells
around its own cell are certainly neighbours (a summed-area table per discrete class counts them in O(2^m)).
Exact counts come from a scipy cKDTree (Chebyshev metric) only for rows in ascending order of that bound,
stopping as soon as the next bound reaches the smallest exact count found: the minimum is exact, and only
the sparse rows are ever counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from anon_pipeline.metrics.k_anonymity import encode_codes, k_anonymity
from anon_pipeline.stats.floats import as_float

#: Cells the dense summed-area table may hold (classes x grid cells); above it, the pruning grid coarsens.
_MAX_GRID_CELLS = 8_000_000
_BATCH = 4096


@dataclass(frozen=True)
class KEps:
    discrete: list[str]
    continuous: list[str]
    level_percent: float
    eps: dict[str, float]
    n_rows: int
    K: int
    K_eps: int
    rows_counted: int          # rows whose neighbourhood was counted exactly (the rest were pruned)

    @property
    def k_percent(self) -> float:
        return 100.0 * min(self.K, self.K_eps) / self.n_rows if self.n_rows else 0.0

    def as_dict(self) -> dict:
        return {"discrete": self.discrete, "continuous": self.continuous, "T_percent": self.level_percent,
                "eps": self.eps, "N": self.n_rows, "K": self.K, "K_eps": self.K_eps,
                "k_percent": self.k_percent, "rows_counted_exactly": self.rows_counted}


def _scaled(df: pd.DataFrame, continuous: list[str], level: float) -> tuple[np.ndarray, dict[str, float]]:
    cols, eps = [], {}
    for c in continuous:
        x = as_float(df[c])
        if np.isnan(x).any():
            raise ValueError(f"column '{c}': {int(np.isnan(x).sum())} missing value(s); K_eps needs complete rows")
        lo, hi = float(x.min()), float(x.max())
        e = (hi - lo) * level / 200.0
        eps[c] = e
        # A constant column: every row is within any eps of every other.
        cols.append((x - lo) / e if e > 0 else np.zeros_like(x))
    return np.column_stack(cols), eps


def _lower_bounds(u: np.ndarray, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Per row, the number of rows certainly inside its neighbourhood (same class, nearby grid cells)."""
    m = u.shape[1]
    extent = float(u.max()) + 1.0
    s = 8
    while s > 1 and n_codes * (int(extent * s) + 1) ** m > _MAX_GRID_CELLS:
        s //= 2
    size = int(extent * s) + 1
    if n_codes * size ** m > _MAX_GRID_CELLS:
        return np.ones(len(u), dtype=np.int64)      # too many dimensions for a grid: no pruning
    cells = np.minimum((u * s).astype(np.int64), size - 1)
    flat = codes.astype(np.int64)
    for j in range(m):
        flat = flat * size + cells[:, j]
    counts = np.bincount(flat, minlength=n_codes * size ** m).reshape((n_codes,) + (size,) * m)
    table = np.zeros((n_codes,) + (size + 1,) * m, dtype=np.int64)
    table[(slice(None),) + (slice(1, None),) * m] = counts
    for axis in range(1, m + 1):
        np.cumsum(table, axis=axis, out=table)
    lo = np.clip(cells - (s - 1), 0, size)          # inclusive cell range [lo, hi]
    hi = np.clip(cells + (s - 1), 0, size - 1) + 1  # exclusive, in summed-area coordinates
    total = np.zeros(len(u), dtype=np.int64)
    for corner in product((0, 1), repeat=m):
        idx = tuple(np.where(corner[j], hi[:, j], lo[:, j]) for j in range(m))
        sign = -1 if (m - sum(corner)) % 2 else 1
        total += sign * table[(codes,) + idx]
    return total


def k_eps(df: pd.DataFrame, continuous: list[str], discrete: Sequence[str] = (), level: float = 10.0) -> KEps:
    """K_eps over ``continuous`` (eps-neighbourhoods) and ``discrete`` (equality) attributes."""
    continuous, discrete = list(continuous), list(discrete)
    n = len(df)
    K = k_anonymity(df, discrete + continuous).K
    if n == 0 or not continuous:
        kd = k_anonymity(df, discrete).K
        return KEps(discrete, continuous, level, {}, n, K, kd, 0)
    u, eps = _scaled(df, continuous, level)
    codes = encode_codes(df, discrete)
    n_codes = int(codes.max()) + 1
    bounds = _lower_bounds(u, codes, n_codes)
    # Classes sit 3 apart on an extra axis, so a radius-1 ball never reaches another class.
    points = np.column_stack([u, codes * 3.0])
    from scipy.spatial import cKDTree  # imported on use: scipy.spatial costs a second at start-up

    tree = cKDTree(points)
    radius = np.nextafter(1.0, 0.0)                 # cKDTree's ball is closed; the neighbourhood is open
    order = np.argsort(bounds, kind="stable")
    best = n
    counted = 0
    for start in range(0, n, _BATCH):
        rows = order[start:start + _BATCH]
        rows = rows[bounds[rows] < best]
        if len(rows) == 0:
            break
        counts = tree.query_ball_point(points[rows], r=radius, p=np.inf, return_length=True, workers=-1)
        counted += len(rows)
        best = min(best, int(np.min(counts)))
    return KEps(discrete, continuous, level, eps, n, K, best, counted)
