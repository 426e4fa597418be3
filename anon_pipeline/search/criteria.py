"""Privacy criteria evaluated per equivalence class from grouped integer codes.

Definitions follow ARX: a class is an outlier when it is smaller than the minimal class size (k, or l for
l-diversity) or fails any criterion; a transformation satisfies the criteria when the outliers' rows fit the
suppression budget ``floor(suppression_limit * n_rows)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

L_VARIANTS = ("distinct", "entropy")
#: floating-point slack for entropy and distance bounds (ARX compares exactly, so sums can land 1 ulp off)
_TOLERANCE = 1e-10
T_VARIANTS = ("equal", "ordered")


@dataclass(frozen=True)
class Criteria:
    """The privacy targets of one search. ``None`` switches a criterion off."""

    k: int | None = None
    l: float | None = None
    l_variant: str = "distinct"
    t: float | None = None
    t_variant: str = "equal"

    def __post_init__(self) -> None:
        if self.k is None and self.l is None and self.t is None:
            raise ValueError("give at least one privacy criterion: k, l or t")
        if self.k is not None and self.k < 1:
            raise ValueError("k must be at least 1")
        if self.l is not None and self.l < 1:
            raise ValueError("l must be at least 1")
        if self.t is not None and not 0 <= self.t <= 1:
            raise ValueError("t must be within [0, 1]")
        if self.l_variant not in L_VARIANTS:
            raise ValueError(f"l_variant must be one of {L_VARIANTS}")
        if self.t_variant not in T_VARIANTS:
            raise ValueError(f"t_variant must be one of {T_VARIANTS}")

    @property
    def needs_sensitive(self) -> bool:
        return self.l is not None or self.t is not None

    @property
    def min_class_size(self) -> int:
        sizes = [1]
        if self.k is not None:
            sizes.append(int(self.k))
        if self.l is not None:
            sizes.append(int(math.ceil(self.l)))
        return max(sizes)

    def monotone(self, max_outliers: int) -> bool:
        """Whether satisfying the criteria at a node implies it at every more general node.

        k-anonymity and distinct l-diversity stay monotone with suppression (a merged class fails only if all
        its parts fail); entropy l-diversity and t-closeness only without it (a failing part can drag a merged
        class below the bound and so enlarge the suppressed rows).
        """
        if max_outliers == 0:
            return True
        if self.t is not None:
            return False
        return self.l is None or self.l_variant == "distinct"


@dataclass(frozen=True)
class ClassTable:
    """A node's grouping: table rows are (class, sensitive value) pairs, or classes without a sensitive column."""

    cls: np.ndarray        # class id of every table row
    counts: np.ndarray     # rows of the data in every table row
    sizes: np.ndarray      # rows per class
    sens: np.ndarray | None = None  # sensitive code of every table row


def failing_classes(table: ClassTable, criteria: Criteria, global_dist: np.ndarray | None) -> np.ndarray:
    """Boolean per class: True when the class must be suppressed."""
    sizes = table.sizes
    fail = sizes < criteria.min_class_size
    if criteria.l is not None:
        n_classes = len(sizes)
        distinct = np.bincount(table.cls, minlength=n_classes)
        fail |= distinct < math.ceil(criteria.l)
        if criteria.l_variant == "entropy":
            counts = table.counts.astype(np.float64)
            # ARX's formula: log2(n) - sum(f log2 f) / n >= log2(l)
            flogf = np.bincount(table.cls, weights=counts * (np.log(counts) / math.log(2)), minlength=n_classes)
            total = sizes.astype(np.float64)
            entropy = -((flogf / total) - np.log(total) / math.log(2))
            # a tolerance so that classes exactly at the bound (e.g. l equally frequent values) pass
            fail |= ~(entropy >= math.log(criteria.l) / math.log(2) - _TOLERANCE)
    if criteria.t is not None:
        fail |= _t_distance(table, criteria.t_variant, global_dist) > criteria.t + _TOLERANCE
    return fail


def _t_distance(table: ClassTable, variant: str, q: np.ndarray | None) -> np.ndarray:
    """Earth mover's distance of every class's sensitive distribution to the table's."""
    assert table.sens is not None and q is not None
    n_classes = len(table.sizes)
    p = table.counts / table.sizes[table.cls]
    if variant == "equal":
        # 1/2 sum_s |p_s - q_s| = 1/2 (1 + sum_{s in class} (|p_s - q_s| - q_s)), as ARX computes it
        qs = q[table.sens]
        return (1.0 + np.bincount(table.cls, weights=np.abs(qs - p) - qs, minlength=n_classes)) / 2.0
    # ordered distance: sum of absolute cumulative differences over the ordered domain, / (m - 1)
    m = len(q)
    if m < 2:
        return np.zeros(n_classes)
    dense = np.zeros((n_classes, m))
    np.add.at(dense, (table.cls, table.sens), p)
    cum = np.cumsum(dense - q[None, :], axis=1)
    return np.abs(cum[:, :-1]).sum(axis=1) / (m - 1)


def encode_sensitive(values: pd.Series, ordered: bool) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a sensitive column and its values; ``ordered`` sorts them (ordered-distance t-closeness)."""
    if ordered:
        if values.isna().any():
            raise ValueError(f"sensitive column '{values.name}' has {int(values.isna().sum())} missing value(s); "
                             "ordered t-closeness needs every value")
        uniques = np.sort(values.unique())
        codes = pd.Index(uniques).get_indexer(values)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def global_distribution(sensitive: np.ndarray | None, n_sensitive: int,
                        weights: np.ndarray | None = None) -> np.ndarray | None:
    """The table's share of every sensitive value; ``weights``: rows each code stands for."""
    if sensitive is None or len(sensitive) == 0:
        return None
    if weights is None:
        return np.bincount(sensitive, minlength=n_sensitive) / len(sensitive)
    return np.bincount(sensitive, weights=weights, minlength=n_sensitive) / float(np.sum(weights))
