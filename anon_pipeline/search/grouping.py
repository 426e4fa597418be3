"""Grouping a lattice node: one group-by over integer codes, rolled up from the smallest finer node seen.

A node's table has one row per (equivalence class, sensitive value) -- or per class without a sensitive
column -- holding the base-table row that represents it and a row count (the summed weights when the input
rows are distinct rows with counts). Because hierarchies are trees, any coarser node can be grouped from that
table instead of from the data, which gets cheaper as the search climbs the lattice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.search.criteria import ClassTable

_DENSE_SLACK = 1 << 12
_KEY_LIMIT = 1 << 62


@dataclass(frozen=True)
class NodeGroups:
    """A grouped node: its class table, and every table row's codes at the node's levels (on demand)."""

    levels: tuple[int, ...]
    table: ClassTable
    source_codes: list[np.ndarray]  # per column, the node-level code of every row of the source table
    rep: np.ndarray                 # the source row representing every table row

    @property
    def node_codes(self) -> np.ndarray:
        """(table rows, columns) codes at the node's levels."""
        return self.codes_of(np.ones(len(self.rep), dtype=bool))

    def codes_of(self, rows: np.ndarray) -> np.ndarray:
        """(selected table rows, columns) codes at the node's levels; ``rows`` a mask or indices of table rows."""
        picked = self.rep[rows]
        if not self.source_codes:
            return np.zeros((len(picked), 0), dtype=np.int64)
        return np.stack([c[picked] for c in self.source_codes], axis=1)


def _joint_key(columns: list[np.ndarray], cards: list[int]) -> tuple[np.ndarray, int]:
    """One int64 key per row for the tuple of codes, and the size of the key space."""
    if not columns:
        return np.zeros(0, dtype=np.int64), 1
    key = np.array(columns[0], dtype=np.int64)
    space = int(cards[0])
    for col, card in zip(columns[1:], cards[1:]):
        if card == 1:
            continue  # a fully generalised column adds nothing to the key
        if space * card >= _KEY_LIMIT:
            codes, uniques = pd.factorize(key)
            key = codes.astype(np.int64)
            space = len(uniques)
        key *= card
        key += col
        space *= card
    return key, space


def _group(key: np.ndarray, space: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group rows by key: (group of every row, one representative row per group, summed weights)."""
    n = len(key)
    if space <= 8 * n + _DENSE_SLACK:
        present = np.zeros(space, dtype=bool)
        present[key] = True
        # the rank of every present key in key order (a cumsum over the whole key space costs more)
        occupied = np.flatnonzero(present)
        rank = np.empty(space, dtype=np.intp)
        rank[occupied] = np.arange(len(occupied))
        inverse = rank[key]
        n_groups = len(occupied)
    else:
        # factorize numbers groups by first occurrence, so any one-to-one narrowing of the keys gives the same
        # groups; 32-bit keys hash faster
        narrow = key.astype(np.uint32) if space <= 1 << 32 else key
        inverse, uniques = pd.factorize(narrow, size_hint=n)
        n_groups = len(uniques)
    rep = np.empty(n_groups, dtype=np.int64)
    rep[inverse] = np.arange(n)
    sums = np.bincount(inverse, weights=weights, minlength=n_groups)
    return inverse, rep, sums


class Grouper:
    """Groups nodes of one problem, caching small tables to roll coarser nodes up from.

    A cached table is (the base-table row representing each of its rows, row counts, sensitive codes).
    """

    def __init__(self, hierarchies: list[EncodedHierarchy], codes: np.ndarray, sensitive: np.ndarray | None,
                 n_sensitive: int = 0, cache_rows: int = 1_000_000, cache_entries: int = 1024,
                 weights: np.ndarray | None = None) -> None:
        self.hierarchies = hierarchies
        self.cache_entries = cache_entries
        self.n_sensitive = n_sensitive
        self.cache_rows = cache_rows
        self.groupings = 0
        self._cards = [[h.cardinality(lv) for lv in range(h.height + 1)] for h in hierarchies]
        base_levels = tuple(0 for _ in hierarchies)
        cols = [codes[:, j] for j in range(codes.shape[1])]
        cards = [h.domain_size for h in hierarchies]
        if sensitive is not None:
            cols.append(sensitive)
            cards.append(n_sensitive)
        key, space = _joint_key(cols, cards)
        _, rep, sums = _group(key, space, np.ones(len(key)) if weights is None else weights.astype(np.float64))
        # the narrowest type that holds each level's codes: the random gathers from them read less memory
        maps = [[m.astype(np.int16 if h.cardinality(lv) <= np.iinfo(np.int16).max + 1 else np.int32)
                 for lv, m in enumerate(h.level_codes)] for h in hierarchies]
        base_cols = [np.ascontiguousarray(codes[rep, j], dtype=np.int32) for j in range(codes.shape[1])]
        # the base table's codes at every level: any node's codes are a gather from these, whatever its source
        self._base_levels = [[m[c] for m in col_maps] for c, col_maps in zip(base_cols, maps)]
        self._base_key = base_levels
        # A cached table is (the base rows its rows stand for, None for the base itself; counts; sensitive codes):
        # one index array instead of per-column codes, so caching a table costs one gather.
        self._cache: dict[tuple[int, ...], tuple[np.ndarray | None, np.ndarray, np.ndarray | None]] = {
            base_levels: (None, sums, None if sensitive is None else sensitive[rep])}
        self._cached_rows = len(rep)
        self._index()

    def _index(self) -> None:
        self._keys = list(self._cache)
        self._key_levels = np.array(self._keys, dtype=np.int64).reshape(len(self._keys), -1)
        self._key_rows = np.array([len(self._cache[k][1]) for k in self._keys], dtype=np.int64)

    def _append_index(self, levels: tuple[int, ...], rows: int) -> None:
        self._keys.append(levels)
        self._key_levels = np.vstack([self._key_levels, np.asarray(levels, dtype=np.int64)[None, :]])
        self._key_rows = np.append(self._key_rows, rows)

    def _source(self, levels: tuple[int, ...]) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """The cached table finer than ``levels`` that is cheapest to group from: the fewest rows, counting the base
        table's at half (its codes are read as they are; any other's are first gathered, column by column)."""
        finer = np.all(self._key_levels <= np.asarray(levels), axis=1)
        cost = np.where(finer, self._key_rows * 2, np.iinfo(np.int64).max)
        cost[0] //= 2  # the base: the cache's first entry, never evicted
        return self._cache[self._keys[int(np.argmin(cost))]]

    def group(self, levels: tuple[int, ...]) -> NodeGroups:
        base_rows, counts, sens = self._source(levels)
        node_cols = [by_level[lv] for by_level, lv in zip(self._base_levels, levels)]
        cards = [cards[lv] for cards, lv in zip(self._cards, levels)]
        if base_rows is not None:
            # a column generalised to a single value has code 0 in every row: no gather needed
            node_cols = [c[base_rows] if card > 1 else np.zeros(len(base_rows), dtype=c.dtype)
                         for c, card in zip(node_cols, cards)]
        class_key, class_space = _joint_key(node_cols, cards)
        if sens is None:
            _, rep, sums = _group(class_key, class_space, counts)
            cls = np.arange(len(rep))
            sizes = sums
            new_sens = None
        else:
            key, space = _joint_key([class_key, sens], [class_space, self.n_sensitive])
            _, rep, sums = _group(key, space, counts)
            cls, _ = pd.factorize(class_key[rep])
            cls = cls.astype(np.int64)
            sizes = np.bincount(cls, weights=sums)
            new_sens = sens[rep]
        self.groupings += 1
        table = ClassTable(cls=cls, counts=sums, sizes=sizes, sens=new_sens)
        self._remember(levels, rep if base_rows is None else base_rows[rep], sums, new_sens)
        return NodeGroups(levels=tuple(levels), table=table, source_codes=node_cols, rep=rep)

    def _remember(self, levels, base_rows, sums, sens) -> None:
        rows = len(base_rows)
        if levels in self._cache or rows > self.cache_rows:
            return
        if self._cached_rows + rows > self.cache_rows or len(self._cache) >= self.cache_entries:
            # Drop the larger half of the non-base tables at once: small tables are the cheap roll-up sources,
            # and evicting in bulk keeps the index rebuilds rare.
            others = sorted((lv for lv in self._cache if lv != self._base_key), key=lambda lv: len(self._cache[lv][1]))
            for lv in others[len(others) // 2:]:
                self._cached_rows -= len(self._cache.pop(lv)[1])
            self._index()
        self._cache[levels] = (base_rows, sums, sens)
        self._cached_rows += rows
        self._append_index(levels, rows)


def class_table(row_class: np.ndarray, n_classes: int, sensitive: np.ndarray | None = None,
                n_sensitive: int = 0, weights: np.ndarray | None = None) -> ClassTable:
    """The class table of rows already assigned to classes (with their sensitive codes, if any); ``weights``:
    how many rows each row stands for."""
    w = np.ones(len(row_class)) if weights is None else np.asarray(weights, dtype=np.float64)
    sizes = np.bincount(row_class, weights=w, minlength=n_classes)
    if sensitive is None:
        return ClassTable(cls=np.arange(n_classes), counts=sizes, sizes=sizes)
    pair_key, space = _joint_key([row_class, sensitive], [n_classes, n_sensitive])
    _, rep, sums = _group(pair_key, space, w)
    return ClassTable(cls=row_class[rep], counts=sums, sizes=sizes, sens=sensitive[rep])


def row_classes(hierarchies: list[EncodedHierarchy], codes: np.ndarray, levels: tuple[int, ...] | list[int],
                sensitive: np.ndarray | None = None, n_sensitive: int = 0,
                weights: np.ndarray | None = None) -> tuple[np.ndarray, ClassTable]:
    """The class of every data row at ``levels`` and the node's class table (no caching, no roll-up)."""
    node_cols = [h.level_codes[lv][codes[:, j]] for j, (h, lv) in enumerate(zip(hierarchies, levels))]
    cards = [h.cardinality(lv) for h, lv in zip(hierarchies, levels)]
    key, _ = _joint_key(node_cols, cards)
    row_class, uniques = pd.factorize(key)
    row_class = row_class.astype(np.int64)
    return row_class, class_table(row_class, len(uniques), sensitive, n_sensitive, weights)
