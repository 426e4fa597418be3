"""Gaussian kernel density estimates with Silverman's diagonal bandwidth (Borisov et al. 2023).

One module for the density itself: the bandwidth rule, drawing from the N-component mixture, and evaluating
its log-density at given points (used by the KL measure). Everything works on plain float arrays; columns
with missing values keep them (a missing source value stays missing, and such rows are skipped when
evaluating).
"""

from __future__ import annotations

import numpy as np

#: Rows of evaluation points handled at once, so the (points x centres) distance block stays ~32 MB.
_BLOCK_CELLS = 4_000_000


def population_sigma(data: np.ndarray) -> np.ndarray:
    """Per-column sigma with the 1/N variance Borisov et al. (2023) write (sigma^2 = mean(x^2) - mu^2), NaNs ignored."""
    data = np.asarray(data, dtype=float)
    return np.nanstd(data, axis=0, ddof=0)


def silverman_factor(n: int, m: int) -> float:
    """(4 / (m + 2))^(1 / (m + 4)) * n^(-1 / (m + 4)): the bandwidth in units of each column's sigma."""
    if n < 1 or m < 1:
        raise ValueError("Silverman's rule needs at least one row and one column")
    return (4.0 / (m + 2)) ** (1.0 / (m + 4)) * n ** (-1.0 / (m + 4))


def silverman_bandwidth(data: np.ndarray) -> np.ndarray:
    """h_j = (4/(m+2))^(1/(m+4)) N^(-1/(m+4)) sigma_j for an (N, m) array (N counts complete rows)."""
    data = np.atleast_2d(np.asarray(data, dtype=float).T).T
    n = int(np.sum(~np.isnan(data).any(axis=1)))
    return silverman_factor(max(n, 1), data.shape[1]) * population_sigma(data)


def sample_mixture(data: np.ndarray, bandwidth: np.ndarray, n: int, rng: np.random.Generator,
                   *, source: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from the KDE: a source row tau per point, shared by all columns, plus h_j * N(0, 1).

    Returns (points, tau) so a caller can copy other columns of the same source rows (a mixed group).
    ``source`` optionally restricts which rows may be drawn (indices into ``data``).
    """
    data = np.atleast_2d(np.asarray(data, dtype=float).T).T
    pool = np.arange(len(data)) if source is None else np.asarray(source)
    if len(pool) == 0:
        raise ValueError("no source rows to sample from")
    tau = pool[rng.integers(0, len(pool), size=n)]
    points = data[tau] + rng.standard_normal((n, data.shape[1])) * np.asarray(bandwidth, dtype=float)
    return points, tau


def log_density(centres: np.ndarray, bandwidth: np.ndarray, points: np.ndarray,
                *, centre_groups: np.ndarray | None = None, point_groups: np.ndarray | None = None) -> np.ndarray:
    """log f(x) for f = (1/N) sum_i prod_j N(x_j; c_ij, h_j^2), at every row of ``points``.

    With ``centre_groups``/``point_groups`` (integer codes of discrete attributes) the kernel is the product of
    the Gaussian and an exact-match kernel on the codes: the density of a mixed discrete/continuous group.
    Cost is points x centres x m, done in blocks; callers bound both sizes.
    """
    centres = np.atleast_2d(np.asarray(centres, dtype=float).T).T
    points = np.atleast_2d(np.asarray(points, dtype=float).T).T
    h = np.asarray(bandwidth, dtype=float)
    m = centres.shape[1]
    log_norm = -np.log(len(centres)) - np.sum(np.log(h)) - 0.5 * m * np.log(2.0 * np.pi)
    if (centre_groups is None) != (point_groups is None):
        raise ValueError("give centre_groups and point_groups together, or neither")
    if centre_groups is None or point_groups is None:
        return _log_kernel_sum(centres / h, points / h) + log_norm
    # Exact-match kernel: only centres of a point's own class contribute, so evaluate class by class (the
    # number of classes is bounded by the number of points) instead of masking a points x centres block.
    out = np.full(len(points), -np.inf)
    order = np.argsort(centre_groups, kind="stable")
    sorted_groups = centre_groups[order]
    point_order = np.argsort(point_groups, kind="stable")
    keys, starts = np.unique(point_groups[point_order], return_index=True)
    ends = np.append(starts[1:], len(point_order))
    lo = np.searchsorted(sorted_groups, keys, side="left")
    hi = np.searchsorted(sorted_groups, keys, side="right")
    for key_lo, key_hi, p_start, p_end in zip(lo, hi, starts, ends):
        if key_hi == key_lo:
            continue
        rows = point_order[p_start:p_end]
        out[rows] = _log_kernel_sum(centres[order[key_lo:key_hi]] / h, points[rows] / h)
    return out + log_norm


def _log_kernel_sum(scaled_c: np.ndarray, scaled_p: np.ndarray) -> np.ndarray:
    """log sum_i exp(-|p - c_i|^2 / 2) for every point p (scaled coordinates), in bounded blocks."""
    c_sq = np.einsum("ij,ij->i", scaled_c, scaled_c)
    out = np.empty(len(scaled_p))
    block = max(1, _BLOCK_CELLS // max(len(scaled_c), 1))
    for start in range(0, len(scaled_p), block):
        p = scaled_p[start:start + block]
        # -|p - c|^2 / 2 expanded, so the block is one matrix product; then a log-sum-exp done in place.
        e = p @ scaled_c.T
        e -= 0.5 * np.einsum("ij,ij->i", p, p)[:, None]
        e -= 0.5 * c_sq[None, :]
        np.minimum(e, 0.0, out=e)
        top = e.max(axis=1)
        e -= top[:, None]
        np.exp(e, out=e)
        out[start:start + block] = top + np.log(e.sum(axis=1))
    return out


def reflect_into(points: np.ndarray, low, high) -> np.ndarray:
    """Points beyond [low, high] mirrored back at the bound they crossed (the reflection boundary correction of
    a kernel estimate), then clipped: unlike clipping alone, no mass piles up on the observed minimum or maximum
    (which are real values). NaN stays NaN; bounds broadcast per column."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    out = np.where(points < low, 2 * low - points, points)
    out = np.where(out > high, 2 * high - out, out)
    return np.clip(out, low, high)
