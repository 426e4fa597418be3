"""Integer encoding of a hierarchy against a data column, done once before any lattice search.

Level-0 codes are the hierarchy's rows (the whole domain ARX counts for domain shares); level ``l`` codes are
the factorised labels of column ``l``. Every search step then works on small integer arrays: a row's code at
level ``l`` is ``level_codes[l][row_code]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.errors import InputDataError


def as_hierarchy_strings(values: pd.Series) -> pd.Series:
    """Data values as the strings a hierarchy file would hold (integers without a trailing ``.0``)."""
    if pd.api.types.is_float_dtype(values.dtype):
        non_na = values.dropna()
        if len(non_na) and bool((non_na == np.floor(non_na)).all()):
            values = values.astype("Int64")
    return values.astype("string").astype(object).where(values.notna(), None)


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
        frame = hierarchy.astype(str)
        base = frame.iloc[:, 0]
        if base.duplicated().any():
            raise ValueError(f"hierarchy for column '{column}': {int(base.duplicated().sum())} value(s) "
                             "appear more than once in the first column")
        n = len(frame)
        level_codes, labels, shares = [], [], []
        for level in range(frame.shape[1]):
            codes, uniques = pd.factorize(frame.iloc[:, level])
            codes = codes.astype(np.int64)
            level_codes.append(codes)
            labels.append(np.asarray(uniques, dtype=object))
            shares.append(np.bincount(codes, minlength=len(uniques)) / n)
        # Rolling counts up from a finer node needs a tree: each label has exactly one parent.
        for level in range(1, len(level_codes)):
            pairs = np.unique(np.stack([level_codes[level - 1], level_codes[level]]), axis=1)
            if pairs.shape[1] != len(labels[level - 1]):
                raise ValueError(f"hierarchy for column '{column}': level {level - 1} has a label with more than "
                                 f"one parent at level {level} (a hierarchy must be a tree)")
        return cls(column, tuple(level_codes), tuple(labels), tuple(shares))

    def encode(self, values: pd.Series) -> np.ndarray:
        """Level-0 code of every value; an uncovered value is an error naming the column and the count."""
        strings = as_hierarchy_strings(values)
        index = pd.Index(self.labels[0])
        codes = index.get_indexer(strings.to_numpy())
        missing = codes < 0
        if missing.any():
            n_values = int(pd.Series(strings[missing]).nunique(dropna=False))
            raise InputDataError(None, f"{n_values} distinct value(s) have no entry in the hierarchy",
                                 column=self.column, rule="hierarchy coverage", n_rows=int(missing.sum()))
        return codes.astype(np.int64)

    def generalise(self, codes: np.ndarray, level: int) -> np.ndarray:
        """Labels at ``level`` for level-0 codes."""
        return self.labels[level][self.level_codes[level][codes]]
