"""Integer encoding: every column becomes dense codes once, and any set of columns becomes one class id per row.

Every measure in this package works on these codes, so the table is read once and each group-by is a few
numpy passes (``bincount`` and gathers) instead of a pandas group-by over values.

Missing values are a value of their own: they get a code like any other value (the last one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Dense remapping through a presence mask costs ``span`` bytes plus 4 * ``span``; beyond this many codes
#: per row we fall back to sorting (``np.unique``), which needs no table over the span.
_SPAN_PER_ROW = 4
_MIN_SPAN = 1 << 20


@dataclass(frozen=True)
class EncodedColumn:
    """Codes 0..cardinality-1 per row; ``uniques[code]`` is the value (sorted when the values sort)."""

    name: str
    codes: np.ndarray
    uniques: pd.Index

    @property
    def cardinality(self) -> int:
        return len(self.uniques)

    @property
    def n_missing(self) -> int:
        missing = np.flatnonzero(pd.isna(self.uniques))
        return int(np.isin(self.codes, missing).sum()) if missing.size else 0


def _code_dtype(cardinality: int) -> np.dtype:
    return np.dtype(np.int32) if cardinality < 2**31 else np.dtype(np.int64)


def encode_column(values: pd.Series, order: Sequence | None = None) -> EncodedColumn:
    """Dense codes of one column, in sorted value order when the values sort (or in ``order`` when given).

    ``order`` lists the values of an ordinal attribute from lowest to highest; a value missing from it is an
    error naming the column and the count (never the value).
    """
    name = str(values.name)
    if order is not None:
        uniques = pd.Index(list(order))
        codes = uniques.get_indexer(values)
        if (codes < 0).any():
            raise ValueError(f"column '{name}': {int((codes < 0).sum())} row(s) hold a value not in the given order")
        return EncodedColumn(name, codes.astype(_code_dtype(len(uniques))), uniques)
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Category codes are already dense; unused categories are dropped so cardinality counts what occurs.
        values = values.cat.remove_unused_categories()
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = pd.Index(values.cat.categories)
        if (codes < 0).any():
            codes[codes < 0] = len(uniques)
            uniques = uniques.append(pd.Index([np.nan]))
        return EncodedColumn(name, codes.astype(_code_dtype(len(uniques))), uniques)
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and len(values):
        # Small-range integers (ages, years, codes): offset and remap through a presence mask, no hashing.
        arr = values.to_numpy()
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo < max(_SPAN_PER_ROW * len(arr), _MIN_SPAN):
            codes, present = dense_rank(arr.astype(np.int64) - lo, hi - lo + 1)
            return EncodedColumn(name, codes.astype(_code_dtype(len(present))), pd.Index(present + lo))
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:  # values of mixed types do not sort: order of first appearance instead
        codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=False)
    return EncodedColumn(name, codes.astype(_code_dtype(len(uniques))), pd.Index(uniques))


def dense_rank(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Map non-negative int keys below ``span`` to 0..J-1 in sorted key order: (ids per row, sorted unique keys)."""
    if span <= max(_SPAN_PER_ROW * len(key), _MIN_SPAN):
        present = np.zeros(span, dtype=bool)
        present[key] = True
        remap = np.cumsum(present, dtype=np.int64)
        remap -= 1
        ids = remap[key]
        del remap
        return ids, np.flatnonzero(present)
    uniques, ids = np.unique(key, return_inverse=True)
    return ids.astype(np.int64, copy=False), uniques


def joint_ids(columns: Sequence[EncodedColumn], n_rows: int) -> tuple[np.ndarray, int]:
    """One dense class id per row for the joint values of ``columns``: (ids, number of classes).

    Codes are combined in mixed radix, widest column first so the span stays small, and re-densified whenever
    the next product would leave the range a presence mask handles (or overflow int64).
    """
    if not columns:
        return np.zeros(n_rows, dtype=np.int64), (1 if n_rows else 0)
    ordered = sorted(columns, key=lambda c: -c.cardinality)
    key = ordered[0].codes.astype(np.int64)
    span = max(ordered[0].cardinality, 1)
    limit = max(_SPAN_PER_ROW * n_rows, _MIN_SPAN)
    for col in ordered[1:]:
        card = max(col.cardinality, 1)
        if span * card > limit:
            key, uniq = dense_rank(key, span)
            span = max(len(uniq), 1)
        key *= card
        key += col.codes
        span *= card
    ids, uniq = dense_rank(key, span)
    return ids, len(uniq)


def encode_frame(df: pd.DataFrame, columns: Sequence[str],
                 orders: dict[str, Sequence] | None = None) -> dict[str, EncodedColumn]:
    """Encode each named column once (``orders`` gives the value order of ordinal columns)."""
    orders = orders or {}
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    return {c: encode_column(df[c], orders.get(c)) for c in dict.fromkeys(columns)}
