"""Sensitive-attribute measures from one (class, value) contingency: l-diversity (distinct, entropy, recursive
(c, l)), t-closeness, delta-disclosure privacy, basic and enhanced beta-likeness and (alpha, k)-anonymity.

Definitions follow pycanon 1.0.1 (Sainz-Pardo Diaz and Lopez Garcia, 2022) so our figures can be checked
against it, with one deliberate exception documented on :func:`recursive_c`: pycanon sorts the value counts of
a class in ascending order, the published definition (Machanavajjhala et al. 2007) in descending order; both
are available. t-closeness is the earth mover's distance of Li et al. (2007): equal ground distance for
categorical attributes, ordered distance (over the sorted distinct values) for numeric and ordinal ones.

A table with one class per row is summarised by the ``P`` non-empty (class, value) pairs, sorted by class and
then by value: every measure is a few vector operations over those pairs, never a loop over classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anon_pipeline.metrics.encoding import dense_rank


@dataclass(frozen=True)
class Contingency:
    """Non-empty (class, value) cells of one sensitive attribute, sorted by class then value code."""

    pair_class: np.ndarray   # class id of each cell
    pair_value: np.ndarray   # value code of each cell (value order = code order for ordered attributes)
    pair_count: np.ndarray   # rows in the cell
    class_size: np.ndarray   # rows per class
    value_count: np.ndarray  # rows per value over the whole table
    class_start: np.ndarray  # index of each class's first cell

    @property
    def n_rows(self) -> int:
        return int(self.class_size.sum())

    @property
    def n_values(self) -> int:
        return len(self.value_count)

    def q(self) -> np.ndarray:
        """Share of each cell's value within its class."""
        return self.pair_count / self.class_size[self.pair_class]

    def p(self) -> np.ndarray:
        """Share of each cell's value in the whole table."""
        return (self.value_count / self.n_rows)[self.pair_value]


def contingency(class_ids: np.ndarray, n_classes: int, value_codes: np.ndarray, n_values: int,
                weights: np.ndarray | None = None) -> Contingency:
    """Count the (class, value) cells with one dense ranking of ``class * n_values + value`` (``weights``: rows
    each row stands for, when the table is given as counts, ``metrics.counted``)."""
    key = class_ids.astype(np.int64)
    key *= n_values
    key += value_codes
    cell_ids, cells = dense_rank(key, n_classes * n_values)
    del key
    # Cells are at most one per row: int32 while the table has fewer than 2**31 rows halves their memory.
    small = np.int32 if len(class_ids) < 2**31 and weights is None else np.int64
    pair_count = np.bincount(cell_ids, weights=weights, minlength=len(cells)).astype(small)
    del cell_ids
    pair_class = (cells // n_values).astype(small)
    cells %= n_values
    pair_value = cells.astype(small)
    del cells
    per_class = np.bincount(pair_class, minlength=n_classes)
    class_start = np.zeros(n_classes, dtype=np.int64)
    np.cumsum(per_class[:-1], out=class_start[1:])
    return Contingency(
        pair_class=pair_class,
        pair_value=pair_value,
        pair_count=pair_count,
        class_size=np.bincount(pair_class, weights=pair_count, minlength=n_classes).astype(np.int64),
        value_count=np.bincount(value_codes, weights=weights, minlength=n_values).astype(np.int64),
        class_start=class_start,
    )


def contingency_from_cells(pair_class: np.ndarray, pair_value: np.ndarray, pair_count: np.ndarray,
                           n_classes: int, n_values: int) -> Contingency:
    """The contingency of (class, value, count) cells in any order, e.g. a lattice node's grouped table; counts
    may be float sums of whole row counts."""
    key = pair_class.astype(np.int64) * n_values + pair_value
    if len(key) > 1 and not (key[1:] > key[:-1]).all():  # a dense group-by leaves them sorted already
        order = np.argsort(key, kind="stable")
        pair_class, pair_value, pair_count = pair_class[order], pair_value[order], pair_count[order]
    pair_class, pair_value = pair_class.astype(np.int64), pair_value.astype(np.int64)
    pair_count = np.rint(pair_count).astype(np.int64)
    per_class = np.bincount(pair_class, minlength=n_classes)
    class_start = np.zeros(n_classes, dtype=np.int64)
    np.cumsum(per_class[:-1], out=class_start[1:])
    return Contingency(pair_class=pair_class, pair_value=pair_value, pair_count=pair_count,
                       class_size=np.bincount(pair_class, weights=pair_count, minlength=n_classes).astype(np.int64),
                       value_count=np.bincount(pair_value, weights=pair_count, minlength=n_values).astype(np.int64),
                       class_start=class_start)


def _max_per_class(ct: Contingency, values: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(values, ct.class_start) if len(values) else np.zeros(len(ct.class_size))


def distinct_per_class(ct: Contingency) -> np.ndarray:
    return np.bincount(ct.pair_class, minlength=len(ct.class_size))


def entropy_per_class(ct: Contingency) -> np.ndarray:
    """Shannon entropy (natural log) of the value distribution of each class."""
    q = ct.q()
    return np.bincount(ct.pair_class, weights=-q * np.log(q), minlength=len(ct.class_size))


def entropy_l(ct: Contingency) -> float:
    """exp of the smallest class entropy: the largest real l for which the table is entropy l-diverse."""
    return float(np.e ** entropy_per_class(ct).min())


def recursive_c(ct: Contingency, l: int, order: str = "descending") -> tuple[np.ndarray, np.ndarray]:
    """Per class, ``r1`` and ``r_l + ... + r_m`` of the recursive (c, l)-diversity test ``r1 < c * (...)``.

    ``order="descending"`` ranks counts from most to least frequent (the published definition: the most
    frequent value may not dominate the l-th and rarer ones). ``order="ascending"`` reproduces pycanon 1.0.1,
    which sorts ascending, so its ``r1`` is the rarest count and its c is almost always 1 or 2.
    A class with fewer than ``l`` distinct values gets a tail sum of 0 (it fails for every c).
    """
    sign = -1 if order == "descending" else 1
    idx = np.lexsort((sign * ct.pair_count, ct.pair_class))
    counts = ct.pair_count[idx]
    rank = np.arange(len(counts)) - ct.class_start[ct.pair_class]  # pair_class is already sorted
    r1 = counts[ct.class_start]
    tail = np.bincount(ct.pair_class, weights=np.where(rank >= l - 1, counts, 0), minlength=len(ct.class_size))
    return r1, tail


def smallest_c(ct: Contingency, l: int, order: str = "descending") -> float:
    """Smallest integer c for which every class passes recursive (c, l)-diversity: max over classes of
    floor(r1 / (r_l + ... + r_m) + 1) (pycanon's formula); infinite when some class has fewer than l values."""
    r1, tail = recursive_c(ct, l, order)
    if (tail == 0).any():
        return float("inf")
    return float(np.floor(r1 / tail + 1).max())


def t_closeness_per_class(ct: Contingency, ordered: bool) -> np.ndarray:
    """Earth mover's distance between each class's value distribution and the whole table's."""
    n_classes = len(ct.class_size)
    if not ordered:
        # 0.5 * sum over all values |q - p|; values absent from a class contribute p, i.e. 1 - sum of present p.
        p = ct.p()
        covered = np.bincount(ct.pair_class, weights=p, minlength=n_classes)
        gap = ct.q()
        gap -= p
        del p
        np.abs(gap, out=gap)
        present = np.bincount(ct.pair_class, weights=gap, minlength=n_classes)
        return 0.5 * (present + 1.0 - covered)
    m = ct.n_values
    if m < 2:
        return np.zeros(n_classes)
    # Ordered distance: sum over value ranks i of |Q_c(i) - P(i)| / (m - 1), with Q_c and P cumulative shares.
    # Q_c is constant between consecutive values present in the class, P is non-decreasing: each such segment
    # [a, b) sums in closed form through the prefix sums CP of P and the split point where P reaches Q.
    big_p = np.cumsum(ct.value_count) / ct.n_rows
    cp = np.zeros(m + 1)
    np.cumsum(big_p, out=cp[1:])
    cum_counts = np.cumsum(ct.pair_count)
    before_class = (cum_counts - ct.pair_count)[ct.class_start]
    big_q = (cum_counts - before_class[ct.pair_class]) / ct.class_size[ct.pair_class]
    a = ct.pair_value
    is_last = np.ones(len(a), dtype=bool)
    is_last[:-1] = ct.pair_class[1:] != ct.pair_class[:-1]
    b = np.where(is_last, m, np.roll(a, -1))
    k = np.clip(np.searchsorted(big_p, big_q, side="left"), a, b)
    segment = big_q * (k - a) - (cp[k] - cp[a]) + (cp[b] - cp[k]) - big_q * (b - k)
    lead = cp[ct.pair_value[ct.class_start]]  # ranks below the class's first value: Q = 0 there
    return (np.bincount(ct.pair_class, weights=segment, minlength=n_classes) + lead) / (m - 1)


def t_hierarchical_per_class(ct: Contingency, ancestors: list[np.ndarray], height: int) -> np.ndarray:
    """Earth mover's distance of each class to the table under the hierarchical ground distance of Li et al.
    (2007): two values are (level of their lowest common ancestor) / ``height`` apart.

    ``ancestors[j]`` maps every value code to its node at level j, for the levels below the root (j = 0 the
    values themselves). Moving mass inside a node's subtree costs at most that node's level, and the minimal
    transport is, per class, (1 / height) * sum over those levels and nodes of max(0, class share - table share)
    of the node (the recursive extra/cost form of Li et al. summed level by level).
    """
    n_classes = len(ct.class_size)
    q = ct.q()
    p_value = ct.value_count / ct.n_rows
    total = np.zeros(n_classes)
    for anc in ancestors:
        n_nodes = int(anc.max()) + 1 if len(anc) else 1
        cell_key = ct.pair_class.astype(np.int64) * n_nodes + anc[ct.pair_value]
        keys, inverse = np.unique(cell_key, return_inverse=True)
        share = np.bincount(inverse, weights=q, minlength=len(keys))
        table = np.bincount(anc, weights=p_value, minlength=n_nodes)[keys % n_nodes]
        total += np.bincount(keys // n_nodes, weights=np.maximum(share - table, 0.0), minlength=n_classes)
    return total / height


def delta_per_class(ct: Contingency) -> np.ndarray:
    """Per class, max over its present values of |ln(q / p)|."""
    return _max_per_class(ct, np.abs(np.log(ct.q() / ct.p())))


def delta_disclosure(ct: Contingency) -> float:
    """max over classes and present values of |ln(q / p)| (pycanon's delta)."""
    return float(delta_per_class(ct).max())


def beta_per_class(ct: Contingency) -> np.ndarray:
    """Per class, max over its present values of (q - p) / p."""
    p = ct.p()
    return _max_per_class(ct, (ct.q() - p) / p)


def basic_beta(ct: Contingency) -> float:
    """max over classes and values of (q - p) / p; absent values give -1, so present cells decide."""
    return float(beta_per_class(ct).max())


def enhanced_beta(ct: Contingency) -> float:
    """pycanon's enhanced beta-likeness: max over values v of min(basic beta, -ln p_v)."""
    p = ct.value_count[ct.value_count > 0] / ct.n_rows
    return float(min(basic_beta(ct), float((-np.log(p)).max())))


def alpha(ct: Contingency) -> float:
    """Largest share of one value within a class ((alpha, k)-anonymity's alpha)."""
    return float(ct.q().max())
