"""A table encoded once for a lattice search: hierarchies, level-0 codes, sensitive codes and criteria."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anon_pipeline.hierarchies.arx_csv import load_arx_csv
from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.search.criteria import (ClassTable, Criteria, encode_sensitive, failing_classes,
                                           global_distribution)
from anon_pipeline.search.grouping import row_classes

HierarchyLike = pd.DataFrame | str | Path


@dataclass(frozen=True)
class Problem:
    """A table encoded once for searching: level-0 codes per quasi-identifier and the sensitive codes."""

    columns: list[str]
    hierarchies: list[EncodedHierarchy]
    codes: np.ndarray
    sensitive: np.ndarray | None
    sensitive_values: np.ndarray | None
    criteria: Criteria
    suppression_limit: float

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def max_outliers(self) -> int:
        # ARX: floor(limit * rows)
        return int(math.floor(self.suppression_limit * float(self.n_rows)))

    @property
    def n_sensitive(self) -> int:
        return 0 if self.sensitive_values is None else len(self.sensitive_values)

    @property
    def global_distribution(self) -> np.ndarray | None:
        return global_distribution(self.sensitive, self.n_sensitive)

    def classify(self, levels) -> tuple[np.ndarray, ClassTable, np.ndarray]:
        """Per data row: its class; the class table; which classes are suppressed."""
        row_class, table = row_classes(self.hierarchies, self.codes, tuple(levels), self.sensitive, self.n_sensitive)
        return row_class, table, failing_classes(table, self.criteria, self.global_distribution)


def to_hierarchy_frame(hierarchy: HierarchyLike) -> pd.DataFrame:
    if isinstance(hierarchy, pd.DataFrame):
        return hierarchy
    return load_arx_csv(hierarchy)


def encode_problem(df: pd.DataFrame, hierarchies: Mapping[str, HierarchyLike], criteria: Criteria,
                   sensitive: str | None, suppression_limit: float) -> Problem:
    if not hierarchies:
        raise ValueError("give a hierarchy for at least one quasi-identifier")
    if not 0.0 <= suppression_limit <= 1.0:
        raise ValueError("suppression_limit must be within [0, 1]")
    columns = list(hierarchies)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"quasi-identifier column(s) not in the table: {missing}")
    encoded = [EncodedHierarchy.build(c, to_hierarchy_frame(hierarchies[c])) for c in columns]
    codes = np.stack([h.encode(df[c]) for h, c in zip(encoded, columns)], axis=1) if len(df) else \
        np.zeros((0, len(columns)), dtype=np.int64)
    sens_codes = sens_values = None
    if criteria.needs_sensitive:
        if sensitive is None or sensitive not in df.columns:
            raise ValueError("l-diversity and t-closeness need `sensitive`, a column of the table")
        sens_codes, sens_values = encode_sensitive(df[sensitive], criteria.t is not None and criteria.t_variant == "ordered")
    return Problem(columns, encoded, codes, sens_codes, sens_values, criteria, suppression_limit)


