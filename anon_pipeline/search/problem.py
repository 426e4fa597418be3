"""A table encoded once for a lattice search: hierarchies, level-0 codes, and the criteria bound to the table.

The table may come as every row, or as distinct rows with how many rows each stands for (``weights``): class
sizes, the suppression budget, the criteria and the quality models then count weighted rows, so both give the
same search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from anon_pipeline.hierarchies.arx_csv import load_arx_csv
from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.search.criteria import ClassTable, Criteria, SearchCriteria
from anon_pipeline.search.grouping import row_classes

HierarchyLike: TypeAlias = pd.DataFrame | str | Path


@dataclass(frozen=True)
class Problem:
    """A table encoded once for searching: level-0 codes per quasi-identifier and the sensitive codes."""

    columns: list[str]
    hierarchies: list[EncodedHierarchy]
    codes: np.ndarray
    criteria: SearchCriteria
    suppression_limit: float
    #: rows each row of ``codes`` stands for (None: one each)
    weights: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        """Rows of the table (weighted), not rows of ``codes``."""
        return int(self.codes.shape[0]) if self.weights is None else int(self.weights.sum())

    @property
    def row_weights(self) -> np.ndarray:
        return np.ones(self.codes.shape[0]) if self.weights is None else self.weights.astype(np.float64)

    @property
    def max_outliers(self) -> int:
        # ARX: floor(limit * rows)
        return int(math.floor(self.suppression_limit * float(self.n_rows)))

    @property
    def sensitive(self) -> np.ndarray | None:
        """The sensitive column's code per row (None when no target needs one)."""
        return self.criteria.codes

    @property
    def n_sensitive(self) -> int:
        return self.criteria.n_values

    def classify(self, levels) -> tuple[np.ndarray, ClassTable, np.ndarray]:
        """Per data row: its class; the class table; which classes are suppressed."""
        row_class, table = row_classes(self.hierarchies, self.codes, tuple(levels), self.sensitive, self.n_sensitive,
                                       self.weights)
        return row_class, table, self.criteria.failing(table)


def to_hierarchy_frame(hierarchy: HierarchyLike) -> pd.DataFrame:
    if isinstance(hierarchy, pd.DataFrame):
        return hierarchy
    return load_arx_csv(hierarchy)


def _check_weights(weights, n_rows: int) -> np.ndarray | None:
    """``weights`` as int64 row counts, one per row of the table, at least 1 each (None stays None)."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.ndim != 1 or len(w) != n_rows:
        raise ValueError(f"weights has {w.size} entries for a table of {n_rows} rows")
    if w.dtype.kind not in "iuf" or (w.dtype.kind == "f" and not np.all(w == np.round(w))):
        raise ValueError("weights must be whole row counts")
    if n_rows and w.min() < 1:
        raise ValueError(f"weights must be at least 1; {int((w < 1).sum())} are not")
    return w.astype(np.int64)


def encode_problem(df: pd.DataFrame, hierarchies: Mapping[str, HierarchyLike], criteria: Criteria,
                   sensitive: str | None, suppression_limit: float, weights=None,
                   base_dir: str | Path = ".") -> Problem:
    """``df`` encoded for a search; ``weights`` (optional) says how many rows each row of ``df`` stands for;
    ``base_dir``: the folder a target's relative paths start from."""
    if not hierarchies:
        raise ValueError("give a hierarchy for at least one quasi-identifier")
    if not 0.0 <= suppression_limit <= 1.0:
        raise ValueError("suppression_limit must be within [0, 1]")
    weights = _check_weights(weights, len(df))
    columns = list(hierarchies)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"quasi-identifier column(s) not in the table: {missing}")
    encoded = [EncodedHierarchy.build(c, to_hierarchy_frame(hierarchies[c])) for c in columns]
    codes = np.stack([h.encode(df[c]) for h, c in zip(encoded, columns)], axis=1) if len(df) else \
        np.zeros((0, len(columns)), dtype=np.int64)
    return Problem(columns, encoded, codes, criteria.bind(df, sensitive, base_dir), suppression_limit, weights)


