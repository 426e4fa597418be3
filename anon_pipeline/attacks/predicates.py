"""Conjunctive predicates over encoded columns ("age >= 61 & sex == 'F'"), counted on a table in numpy.

The singling-out attack builds them from released rows and counts the records of a table each one matches. A
set of Q predicates of m terms each is three (Q, m) arrays: column index, operator and value (a float, or the
code of a categorical value). Counting evaluates a block of predicates against every row at once, one
(column, operator) pair at a time, so the loops run over columns and operators, never over records.
Comparisons follow anonymeter 1.1's polars expressions: a missing value matches only ``isna`` (a comparison
with a missing value is null, which does not count).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

EQ, NE, LT, GT, LE, GE, ISNA, NOTNA = range(8)
NUMERIC_OPS = np.array([EQ, NE, GT, LT, GE, LE], dtype=np.int8)

#: predicate x row cells evaluated at a time
BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Predicates:
    cols: np.ndarray  # (Q, m) int64, sorted along each row
    ops: np.ndarray   # (Q, m) int8
    vals: np.ndarray  # (Q, m) float64 (0 for isna / notna)

    def __len__(self) -> int:
        return len(self.cols)

    def take(self, idx) -> Predicates:
        return Predicates(self.cols[idx], self.ops[idx], self.vals[idx])

    def keys(self) -> np.ndarray:
        return np.hstack([self.cols.astype(np.float64), self.ops.astype(np.float64), self.vals])

    @staticmethod
    def concat(parts: list[Predicates]) -> Predicates:
        return Predicates(*(np.concatenate([getattr(p, a) for p in parts]) for a in ("cols", "ops", "vals")))

    def unique(self, limit: int | None = None) -> Predicates:
        """Distinct predicates, in order of first occurrence, at most ``limit``."""
        if len(self) == 0:
            return self
        _, first = np.unique(self.keys(), axis=0, return_index=True)
        return self.take(np.sort(first)[:limit])


def _compare(x: np.ndarray, missing: np.ndarray, op: int, v: np.ndarray) -> np.ndarray:
    if op == ISNA:
        return np.broadcast_to(missing, (len(v), len(x)))
    if op == NOTNA:
        return np.broadcast_to(~missing, (len(v), len(x)))
    a, b = x[None, :], v[:, None]
    if op == NE:
        return np.not_equal(a, b) & ~missing[None, :]
    return {EQ: np.equal, LT: np.less, GT: np.greater, LE: np.less_equal, GE: np.greater_equal}[op](a, b)


def match_blocks(pred: Predicates, columns, table: int) -> Iterator[tuple[slice, np.ndarray]]:
    """(predicates slice, bool matrix predicates x rows of ``table``) block by block."""
    n_rows = len(columns[0].values[table])
    block = max(1, BLOCK_CELLS // max(n_rows, 1))
    for start in range(0, len(pred), block):
        sl = slice(start, min(start + block, len(pred)))
        part = pred.take(sl)
        mask = np.ones((len(part), n_rows), dtype=bool)
        for j in range(part.cols.shape[1]):
            for c in np.unique(part.cols[:, j]):
                col = columns[c]
                for op in np.unique(part.ops[part.cols[:, j] == c, j]):
                    rows = np.flatnonzero((part.cols[:, j] == c) & (part.ops[:, j] == op))
                    mask[rows] &= _compare(col.values[table], col.missing[table], int(op), part.vals[rows, j])
        yield sl, mask


def counts(pred: Predicates, columns, table: int) -> np.ndarray:
    """Rows of ``table`` each predicate matches."""
    out = np.zeros(len(pred), dtype=np.int64)
    for sl, mask in match_blocks(pred, columns, table):
        out[sl] = mask.sum(axis=1)
    return out


class _Grouping:
    """Rows of one table grouped by their categorical codes on some columns, each group sorted by one numeric
    column's rank (or by nothing)."""

    def __init__(self, columns, table: int, cats: tuple[int, ...], num: int | None):
        n_rows = len(columns[0].values[table])
        gid, span = np.zeros(n_rows, dtype=np.int64), 1
        for c in cats:
            codes = columns[c].values[table]  # already dense codes
            card = int(codes.max(initial=0)) + 1
            if span * card >= 2**62:
                _, gid = np.unique(gid, return_inverse=True)
                gid, span = gid.ravel(), int(gid.max(initial=0)) + 1
            gid, span = gid * card + codes, span * card
        self.gid = gid
        self.n_ranks = 1
        self.rank = np.zeros(n_rows, dtype=np.int64)
        if num is not None:
            x = columns[num].values[table]
            uniq, rank = np.unique(np.where(np.isnan(x), np.inf, x), return_inverse=True)
            self.n_ranks = len(uniq) + 1
            self.rank = np.where(np.isnan(x), self.n_ranks - 1, rank.ravel())  # missing: a rank no range reaches
        if span * self.n_ranks >= 2**62:
            self.gid = np.unique(self.gid, return_inverse=True)[1].ravel()
        self.key = np.sort(self.gid * self.n_ranks + self.rank)

    def count(self, rows: np.ndarray, op: np.ndarray | None) -> np.ndarray:
        base = self.gid[rows] * self.n_ranks
        if op is None:
            lo, hi = base, base + self.n_ranks - 1
        else:
            r = self.rank[rows]
            lo = np.where(op == GE, base + r, base)
            hi = np.where(op == GE, base + self.n_ranks - 2, base + r)
        return np.searchsorted(self.key, hi, "right") - np.searchsorted(self.key, lo, "left")


def record_counts(pred: Predicates, rows: np.ndarray, columns, table: int, cache: dict | None = None) -> np.ndarray:
    """Counts on ``table`` of predicates built from its own ``rows`` (multivariate singling-out's candidates).

    Such a predicate asks for the record's category on its categorical columns (``==`` or ``isna``) and at most
    a half-line through the record's value on numeric ones, so with at most one numeric column its count is a
    look-up in the rows grouped by the categories and sorted by the number (a sort per column set, not a pass
    over the rows per predicate). Predicates with two numeric columns, or a missing number, are counted in full.
    ``cache`` keeps the groupings between calls on the same table.
    """
    cache = {} if cache is None else cache
    out = np.empty(len(pred), dtype=np.int64)
    numeric = np.array([c.numeric for c in columns])[pred.cols]
    n_numeric = numeric.sum(axis=1)
    fast = (n_numeric <= 1) & ~((pred.ops == ISNA) & numeric).any(axis=1)
    slow = np.flatnonzero(~fast)
    if len(slow):
        out[slow] = counts(pred.take(slow), columns, table)
    fast_idx = np.flatnonzero(fast)
    sets, inverse = np.unique(pred.cols[fast_idx], axis=0, return_inverse=True)
    for s, col_set in enumerate(sets):
        members = fast_idx[inverse.ravel() == s]
        nums = [int(c) for c in col_set if columns[c].numeric]
        key = tuple(int(c) for c in col_set)
        if key not in cache:
            cache[key] = _Grouping(columns, table, tuple(c for c in key if not columns[c].numeric),
                                   nums[0] if nums else None)
        grouping = cache[key]
        op = pred.ops[members][numeric[members]] if nums else None
        out[members] = grouping.count(rows[members], op)
    return out
