"""Sequential CART synthesis (Nowok, Raab and Dibben 2016; synthpop's default method) on scikit-learn trees.

The first column of the visit order is drawn from its marginal; every next column is drawn, row by row, from a
donor: a training row that falls in the same leaf of a decision tree fitted on the columns before it (the tree
is evaluated on the synthetic values drawn so far). ``min_leaf`` is the privacy lever: a leaf holds at least that
many training rows, so a drawn value is always one of several candidates, and larger leaves copy less of any one
person. Continuous columns are smoothed by default (synthpop's ``smoothing = "density"``): the donor value plus
Gaussian noise with Silverman's bandwidth of the leaf's values, reflected into the column's observed range.

Categorical predictors enter each tree as the rank of their categories by the target's mean (scikit-learn trees
have no subset splits; see ``_ranks``); missing values are a category of their own, or for a numeric predictor
left to scikit-learn's native handling of NaN. Each tree is fitted on the distinct rows of its columns with their
counts as weights, the leaf minimum as a weight: the trees of every row, sooner. The fitted trees stay in memory:
nothing here is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.stats.floats import as_float, from_float
from anon_pipeline.stats.kde import reflect_into


@dataclass
class _Column:
    name: str
    continuous: bool
    x: np.ndarray            # a category's integer codes, or a numeric column's float values (NaN where missing)
    low: float = np.nan
    high: float = np.nan


def _encode(frame: pd.DataFrame, continuous: set[str]) -> list[_Column]:
    out = []
    for name in frame.columns:
        if name in continuous:
            x = as_float(frame[name])
            finite = x[~np.isnan(x)]
            out.append(_Column(name, True, x, float(finite.min()) if len(finite) else np.nan,
                               float(finite.max()) if len(finite) else np.nan))
        else:
            codes, _ = pd.factorize(frame[name], use_na_sentinel=False)
            out.append(_Column(name, False, codes.astype(np.intp)))
    return out


def _tree_target(col: _Column) -> np.ndarray:
    """What the tree of ``col`` is fitted on: codes, or the values with NaN moved below the range (a leaf apart)."""
    if not col.continuous:
        return col.x
    span = (col.high - col.low) if np.isfinite(col.high - col.low) else 0.0
    return np.where(np.isnan(col.x), (col.low if np.isfinite(col.low) else 0.0) - span - 1.0, col.x)


def _ranks(codes: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Category code -> rank of the mean ``score`` of its rows. With the categories in this order a threshold
    split finds the best split into two subsets for a binary or numeric target (Breiman et al. 1984), which a
    tree on arbitrary codes would need many splits for; a categorical target is scored by its commonest class."""
    count = np.bincount(codes)
    mean = np.bincount(codes, weights=score, minlength=len(count)) / np.maximum(count, 1)
    return np.argsort(np.argsort(mean, kind="stable"), kind="stable").astype(np.float32)


def _distinct(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the first row of each id, the rows of each id) for ids numbered 0, 1, ... in order of first appearance."""
    seen = np.maximum.accumulate(ids)
    first = np.flatnonzero(np.diff(seen, prepend=-1) > 0)
    return first, np.bincount(ids, minlength=len(first)).astype(float)


def _leaf_fraction(min_leaf: int, n: int) -> float:
    """The ``min_weight_fraction_leaf`` that scikit-learn turns (times the total weight n) into a leaf weight of
    ``min_leaf`` or a hair below, never above: leaves of exactly ``min_leaf`` rows stay allowed."""
    fraction = min_leaf / n
    while fraction * n > min_leaf:
        fraction = float(np.nextafter(fraction, 0.0))
    return fraction


class CartSynthesizer:
    """Trees fitted on a training frame; ``sample(n)`` draws n synthetic rows from them (advancing ``rng``)."""

    def __init__(self, frame: pd.DataFrame, continuous: list[str], rng: np.random.Generator, *, min_leaf: int = 5,
                 smoothing: bool = True):
        self.frame = frame
        self.rng = rng
        self.columns = _encode(frame, set(continuous))
        n = len(frame)
        self.trees: list = [None]
        self.recode: list[dict[int, np.ndarray]] = [{}]
        # Per column: the training rows sorted by leaf, and where each node's rows start and how many there are.
        self.leaves: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [self._donors(np.zeros(n, int), 1)]
        # Which rows are equal on every column so far (numbered by first appearance, as pd.factorize does).
        prefix = np.zeros(n, dtype=np.int64)
        # scikit-learn (with scipy) costs a second or more to import: only a policy that synthesises by CART pays it.
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        for j, col in enumerate(self.columns):
            key = pd.factorize(col.x, use_na_sentinel=False)[0] if col.continuous else col.x
            prefix = pd.factorize(prefix * (int(key.max(initial=0)) + 1) + key)[0]
            if j == 0:
                continue
            kind = DecisionTreeRegressor if col.continuous else DecisionTreeClassifier
            seed = int(rng.integers(0, 2**31 - 1))
            if 2 * min_leaf <= n:
                # The tree sees each distinct (predictors, target) row once, weighted by its count, and the leaf
                # minimum as a weight: the same splits as on every row (it compares the same sums; a numeric
                # target's only up to rounding), at a fraction of the cost when rows repeat.
                rows, weight = _distinct(prefix)
                tree = kind(min_samples_leaf=1, min_weight_fraction_leaf=_leaf_fraction(min_leaf, n),
                            random_state=seed)
            else:  # fewer rows than two leaves need: the tree is its root
                rows, weight = np.arange(n), None
                tree = kind(min_samples_leaf=min_leaf, random_state=seed)
            target = _tree_target(col)
            score = target if col.continuous else (target == np.bincount(target).argmax()).astype(float)
            self.recode.append({k: _ranks(self.columns[k].x, score)
                                for k in range(j) if not self.columns[k].continuous})
            x = self._features([c.x[rows] for c in self.columns[:j]], j)
            tree.fit(x, target[rows], sample_weight=weight)
            self.trees.append(tree)
            leaf = tree.apply(x, check_input=False)
            self.leaves.append(self._donors(leaf if weight is None else leaf[prefix], tree.tree_.node_count))
        self.bandwidths = [self._bandwidth(c, j) if c.continuous and smoothing else None
                           for j, c in enumerate(self.columns)]

    @staticmethod
    def _donors(leaf: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sizes = np.bincount(leaf, minlength=n_nodes)
        # A stable sort of 16-bit keys is a radix sort: the same order, an order of magnitude sooner.
        order = np.argsort(leaf.astype(np.uint16) if n_nodes <= 2**16 else leaf, kind="stable")
        return order, np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes

    def _features(self, columns: list[np.ndarray], j: int) -> np.ndarray:
        """The predictors of column j's tree: the columns before it, each category as its rank for this target,
        as the C-ordered float32 matrix scikit-learn's trees read (so apply need not check or convert it)."""
        x = np.empty((len(columns[0]), j), dtype=np.float32)
        for k in range(j):
            ranks = self.recode[j].get(k)
            x[:, k] = columns[k] if ranks is None else ranks[columns[k]]
        return x

    def sample(self, n: int) -> pd.DataFrame:
        drawn: list[np.ndarray] = []    # per column, as ``_features`` reads it
        out = {}
        for j, col in enumerate(self.columns):
            leaf = (np.zeros(n, dtype=np.int64) if j == 0
                    else self.trees[j].apply(self._features(drawn, j), check_input=False))
            order, starts, sizes = self.leaves[j]
            donor = order[starts[leaf] + (self.rng.random(n) * sizes[leaf]).astype(np.int64)]
            if not col.continuous:
                drawn.append(col.x[donor])
                out[col.name] = self.frame[col.name].iloc[donor].reset_index(drop=True)
                continue
            values = col.x[donor]
            bandwidth = self.bandwidths[j]
            if bandwidth is not None:
                values = reflect_into(values + bandwidth[leaf] * self.rng.standard_normal(n),
                                      col.low, col.high)
            drawn.append(values)
            out[col.name] = from_float(values, self.frame[col.name], pd.RangeIndex(n), rounded=True)
        return pd.DataFrame(out)[list(self.frame.columns)]

    def _bandwidth(self, col: _Column, j: int) -> np.ndarray:
        """Silverman's 1.06 sd n^(-1/5) of the training values in each leaf (NaN values ignored)."""
        order, starts, sizes = self.leaves[j]
        leaf_of = np.repeat(np.arange(len(sizes)), sizes)
        x = col.x[order]
        ok = ~np.isnan(x)
        count = np.bincount(leaf_of[ok], minlength=len(sizes))
        total = np.bincount(leaf_of[ok], weights=x[ok], minlength=len(sizes))
        squares = np.bincount(leaf_of[ok], weights=x[ok] ** 2, minlength=len(sizes))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            sd = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
            h = 1.06 * sd * count ** -0.2
        return np.nan_to_num(h, nan=0.0)
