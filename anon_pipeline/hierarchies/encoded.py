"""Integer encoding of a hierarchy against a data column, done once before any lattice search.

Level-0 codes are the hierarchy's rows (the whole domain ARX counts for domain shares); level ``l`` codes are
the factorised labels of column ``l``. Every search step then works on small integer arrays: a row's code at
level ``l`` is ``level_codes[l][row_code]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from anon_pipeline.errors import InputDataError


def as_hierarchy_strings(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Values as the strings a hierarchy file would hold (integral floats without ``.0``; missing -> None)."""
    values = pd.Series(values)
    if pd.api.types.is_float_dtype(values.dtype):
        non_na = values.dropna()
        if len(non_na) and bool((non_na == np.floor(non_na)).all()):
            values = values.astype("Int64")
    # One vectorised str() per value (pandas' string conversion), instead of a Python loop over the values.
    missing = values.isna().to_numpy()
    if values.dtype.kind in "mM":   # pandas spells a midnight timestamp without its time, str() with it
        out = np.array([str(v) for v in values.astype(object)], dtype=object)
    else:
        out = values.astype("str").to_numpy(dtype=object, na_value=None)
    out[missing] = None
    return out


def _as_text(column: pd.Series) -> pd.Series:
    """A hierarchy column as text, every cell as ``str()`` spells it (a missing cell too: 'nan', 'None')."""
    if isinstance(column.dtype, pd.StringDtype) and not column.isna().any():
        return column
    return pd.Series(column.to_numpy(dtype=object).astype(str), dtype="str")


@dataclass(frozen=True)
class EncodedHierarchy:
    """A hierarchy as integer maps: ``level_codes[l][v]`` is the level-``l`` code of domain value ``v``."""

    column: str
    #: one array per level; level 0 is the identity over the hierarchy's rows
    level_codes: tuple[np.ndarray, ...]
    #: the label of every code, per level
    labels: tuple[np.ndarray, ...]
    #: ARX domain share of every code, per level: rows of the hierarchy under that label / all rows
    shares: tuple[np.ndarray, ...]

    @property
    def height(self) -> int:
        """Highest level (the number of levels minus one)."""
        return len(self.level_codes) - 1

    @property
    def domain_size(self) -> int:
        return len(self.level_codes[0])

    def cardinality(self, level: int) -> int:
        return len(self.labels[level])

    @classmethod
    def build(cls, column: str, hierarchy: pd.DataFrame) -> "EncodedHierarchy":
        """Encode a hierarchy frame (column 0 the value, then ever more general levels)."""
        if hierarchy.shape[0] == 0 or hierarchy.shape[1] == 0:
            raise ValueError(f"hierarchy for column '{column}' is empty")
        n = hierarchy.shape[0]
        level_codes, labels, shares = [], [], []
        for level in range(hierarchy.shape[1]):
            # Factorised column by column as text (pandas' string arrays hash fast); labels as Python str.
            codes, uniques = pd.factorize(_as_text(hierarchy.iloc[:, level]))
            codes = codes.astype(np.int64)
            level_codes.append(codes)
            labels.append(np.asarray(uniques, dtype=object))
            shares.append(np.bincount(codes, minlength=len(uniques)) / n)
        if len(labels[0]) != n:
            raise ValueError(f"hierarchy for column '{column}': {n - len(labels[0])} value(s) "
                             "appear more than once in the first column")
        # Rolling counts up from a finer node needs a tree: each label has exactly one parent.
        for level in range(1, len(level_codes)):
            pairs = np.unique(level_codes[level - 1] * len(labels[level]) + level_codes[level])
            if len(pairs) != len(labels[level - 1]):
                raise ValueError(f"hierarchy for column '{column}': level {level - 1} has a label with more than "
                                 f"one parent at level {level} (a hierarchy must be a tree)")
        return cls(column, tuple(level_codes), tuple(labels), tuple(shares))

    def encode(self, values: pd.Series) -> np.ndarray:
        """Level-0 code of every value; an uncovered value is an error naming the column and the count."""
        # Map the distinct values only: columns repeat few values many times.
        row_codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=False)
        unique_codes = self._domain.get_indexer(as_hierarchy_strings(uniques))
        missing = unique_codes < 0
        if missing.any():
            n_rows = int(np.isin(row_codes, np.flatnonzero(missing)).sum())
            raise InputDataError(None, f"{int(missing.sum())} distinct value(s) have no entry in the hierarchy",
                                 column=self.column, rule="hierarchy coverage", n_rows=n_rows)
        return unique_codes.astype(np.int64)[row_codes]

    @cached_property
    def _domain(self) -> pd.Index:
        """Level-0 labels as an index, its hash table built once for every ``encode``."""
        return pd.Index(self.labels[0])

    def generalise(self, codes: np.ndarray, level: int) -> np.ndarray:
        """Labels at ``level`` for level-0 codes."""
        return self.labels[level][self.level_codes[level][codes]]
