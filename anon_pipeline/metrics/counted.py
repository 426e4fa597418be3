"""Tables as counts: the distinct rows of some columns with how many rows each stands for, gathered batch by batch.

A privacy measure or a report over a table of N rows needs only the distinct rows of the columns it measures and
their counts; over generalised quasi-identifiers these are a few thousand, whatever N. :class:`RowCounter` gathers
them from batches: each column is factorised per batch (pandas' hash table, no Python loop), the batch's distinct
code rows are counted (``encoding.joint_ids``), and the per-batch dictionaries are merged once at the end. Its
memory is set by the distinct rows, not the rows. Every measure of ``metrics.measure`` takes the result with
``weights``, and gives the figures it gives on the rows themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.metrics.encoding import EncodedColumn, code_dtype, joint_ids, missing_of


@dataclass(frozen=True)
class CountedRows:
    """Distinct rows (``frame``, one categorical column per measured column, missing values as missing) and how
    many rows of the table each stands for (``weights``)."""

    frame: pd.DataFrame
    weights: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.weights.sum())

    def value_counts(self, column: str) -> pd.Series:
        """Rows per value of one column (missing values last, under a missing index entry), in value order."""
        values = self.frame[column]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            return pd.Series(self.weights).groupby(values.to_numpy(), dropna=False, sort=True).sum().astype(np.int64)
        categories = values.cat.categories
        per_code = np.bincount(values.cat.codes.to_numpy().astype(np.int64) + 1, weights=self.weights,
                               minlength=len(categories) + 1).astype(np.int64)
        present = per_code[1:] > 0
        index = categories[present]
        counts = per_code[1:][present]
        if per_code[0]:
            index, counts = index.append(missing_of(categories.dtype)), np.append(counts, per_code[0])
        return pd.Series(counts, index=index)


def _plain(uniques) -> pd.Index:
    """``pd.factorize``'s uniques as a plain index of the column's own values (a categorical's are categories)."""
    if isinstance(uniques, pd.Categorical):
        return pd.Index(uniques.categories.take(uniques.codes))
    return pd.Index(uniques)


def _distinct(codes: list[np.ndarray], cardinalities: list[int], weights: np.ndarray | None
              ) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of code columns (codes >= 0) and the weight each carries."""
    n = len(codes[0]) if codes else 0
    columns = [EncodedColumn(str(j), c, pd.RangeIndex(card)) for j, (c, card) in enumerate(zip(codes, cardinalities))]
    ids, d = joint_ids(columns, n, ordered=False)
    counts = np.bincount(ids, weights=weights, minlength=d).astype(np.int64)
    # Any row of a distinct row stands for it (the last one written wins).
    representative = np.empty(d, dtype=ids.dtype)
    representative[ids] = np.arange(n, dtype=ids.dtype)
    del ids
    return [c[representative] for c in codes], counts


class RowCounter:
    """Counts of the distinct rows of ``columns``, added batch by batch; ``result()`` merges them."""

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = list(dict.fromkeys(columns))
        self._uniques: list[list[pd.Index]] = [[] for _ in self.columns]
        self._codes: list[list[np.ndarray]] = [[] for _ in self.columns]
        self._counts: list[np.ndarray] = []
        self._dtypes: dict[str, object] = {}
        #: The last batch counted had about one distinct row per row (raw quasi-identifiers): the next ones are
        #: kept as they are and counted once, at the end, instead of being hashed twice for nothing.
        self._mostly_distinct = False

    def add(self, batch: pd.DataFrame) -> None:
        """Count one batch."""
        if not len(batch):
            for c in self.columns:
                self._dtypes.setdefault(c, batch[c].dtype)
            return
        codes, cards = [], []
        for j, c in enumerate(self.columns):
            self._dtypes.setdefault(c, batch[c].dtype)
            local, uniques = pd.factorize(batch[c], use_na_sentinel=True)
            # Code 0 is "missing", so every row has a code >= 0 for the joint count.
            local += 1
            codes.append(local.astype(code_dtype(len(uniques) + 1)))
            cards.append(len(uniques) + 1)
            self._uniques[j].append(_plain(uniques))
        if self._mostly_distinct:
            rows, counts = codes, np.ones(len(batch), dtype=np.int64)
        else:
            rows, counts = _distinct(codes, cards, None)
            self._mostly_distinct = 2 * len(counts) > len(batch)
        for j, column in enumerate(rows):
            self._codes[j].append(column)
        self._counts.append(counts)

    def result(self) -> CountedRows:
        if not self._counts:
            empty = pd.DataFrame({c: pd.Series([], dtype=self._dtypes.get(c, "object")) for c in self.columns})
            return CountedRows(empty.astype("category"), np.zeros(0, dtype=np.int64))
        codes, uniques = [], []
        batches = len(self._counts)
        for j in range(len(self.columns)):
            merged, categories = _merge_dictionaries(self._uniques[j], self._codes[j])
            # Each batch's codes are let go as soon as they are merged: the peak is one copy, not two.
            self._uniques[j], self._codes[j] = [], []
            codes.append(merged)
            uniques.append(categories)
        counts, self._counts = np.concatenate(self._counts), []
        if batches > 1:
            codes, counts = _distinct(codes, [len(u) + 1 for u in uniques], counts.astype(np.float64))
        frame = pd.DataFrame({c: pd.Categorical.from_codes(codes[j] - 1, categories=uniques[j])
                              for j, c in enumerate(self.columns)})
        return CountedRows(frame, counts)


def _merge_dictionaries(uniques: list[pd.Index], codes: list[np.ndarray]) -> tuple[np.ndarray, pd.Index]:
    """Each batch's codes (0 missing, i > 0 its ``uniques[i - 1]``) as codes of one sorted dictionary (the same
    way: 0 missing, i > 0 the dictionary's value i - 1)."""
    every = uniques[0].append(uniques[1:]) if len(uniques) > 1 else uniques[0]
    try:
        global_codes, categories = pd.factorize(every, sort=True)
    except TypeError:  # values of mixed types do not sort: order of first appearance
        global_codes, categories = pd.factorize(every, sort=False)
    dtype = code_dtype(len(categories) + 1)
    out, offset = [], 0
    for batch_uniques, batch_codes in zip(uniques, codes):
        mapping = np.concatenate([[0], global_codes[offset:offset + len(batch_uniques)] + 1]).astype(dtype)
        out.append(mapping[batch_codes])
        offset += len(batch_uniques)
    return np.concatenate(out), pd.Index(categories)


class ValueCounts:
    """Distinct values of some columns with their counts, merged batch by batch (or task by task): what the qi
    pass gathers for the fits, and the value counts of the columns a table's joint counts do not cover."""

    def __init__(self, columns: list[str]) -> None:
        self.counts: dict[str, pd.Series] = {c: pd.Series(dtype="int64") for c in columns}

    def add(self, frame: pd.DataFrame) -> None:
        self.merge({c: frame[c].value_counts(dropna=False) for c in self.counts})

    def merge(self, counts: dict[str, pd.Series]) -> None:
        for c, here in counts.items():
            merged = pd.concat([self.counts[c], here]) if len(self.counts[c]) else here
            self.counts[c] = merged.groupby(level=0, dropna=False, sort=False).sum()


@dataclass(frozen=True)
class TableCounts:
    """What the reports and checks read of a table: the counts of its distinct rows over the columns measured
    together (``joint``: quasi-identifiers and sensitive attributes), and every column's own value counts."""

    #: None where the caller asked for the columns' counts only (``pipeline.table_counts``).
    joint: CountedRows | None
    #: Per column, rows per value (index: the values, in the column's own type; missing values included).
    columns: dict[str, pd.Series]
    n_rows: int

    @property
    def dtypes(self) -> dict[str, object]:
        """The type of each column's values."""
        return {c: counts.index.dtype for c, counts in self.columns.items()}

    @classmethod
    def of(cls, frame: pd.DataFrame, joint: Sequence[str]) -> "TableCounts":
        return count_batches([frame], joint, list(frame.columns))


class TableCounter:
    """The joint counts of ``joint`` and the value counts of each of ``columns``, added batch by batch (by a pass
    that reads the table, or by the pass that writes it)."""

    def __init__(self, joint: Sequence[str], columns: Sequence[str]) -> None:
        joint = list(dict.fromkeys(joint))
        self.columns = list(dict.fromkeys(columns))
        self._together = RowCounter(joint)
        self._apart = ValueCounts([c for c in self.columns if c not in joint])
        self.rows = 0

    def add(self, batch: pd.DataFrame) -> None:
        self.rows += len(batch)
        self._together.add(batch)
        self._apart.add(batch)

    def result(self) -> "TableCounts":
        counted = self._together.result()
        per_column = {**{c: counted.value_counts(c) for c in self._together.columns}, **self._apart.counts}
        return TableCounts(counted, {c: per_column[c] for c in self.columns if c in per_column}, self.rows)


def count_batches(batches: Iterable[pd.DataFrame], joint: Sequence[str], columns: Sequence[str]) -> TableCounts:
    """One pass over ``batches``: the joint counts of ``joint`` and the value counts of each of ``columns``."""
    counter = TableCounter(joint, columns)
    for batch in batches:
        counter.add(batch)
    return counter.result()
