"""Attribute grouping: split attributes into groups of mutually dependent ones (Borisov et al. 2023 synthesise each
group jointly and independent groups separately, which is cheaper and keeps what matters).

Automatic grouping links two attributes when their association (Pearson's |r|, Cramer's V or the correlation
ratio, by type) exceeds a threshold; the groups are the connected components of that graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.utility.association import association_matrix


@dataclass(frozen=True)
class Grouping:
    groups: list[list[str]]
    threshold: float
    #: every pair at or above the threshold: (a, b, value, kind)
    links: list[tuple[str, str, float, str]]

    def as_dict(self) -> dict:
        return {"groups": self.groups, "threshold": self.threshold,
                "links": [{"columns": [a, b], "association": v, "measure": k} for a, b, v, k in self.links]}


def auto_groups(df: pd.DataFrame, columns: list[str], threshold: float = 0.3) -> Grouping:
    """Groups of ``columns`` linked by |association| >= threshold (connected components), in column order."""
    values, kinds = association_matrix(df, columns)
    strength = np.abs(values.to_numpy())
    adjacency = np.nan_to_num(strength, nan=0.0) >= threshold
    np.fill_diagonal(adjacency, False)
    from scipy.sparse import csr_matrix  # imported on use: scipy costs a second at start-up
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(csr_matrix(adjacency), directed=False)
    groups: dict[int, list[str]] = {}
    for col, label in zip(columns, labels):
        groups.setdefault(int(label), []).append(col)
    links = [(a, b, float(values.loc[a, b]), str(kinds.loc[a, b]))
             for i, a in enumerate(columns) for b in columns[i + 1:] if adjacency[i, columns.index(b)]]
    return Grouping(groups=list(groups.values()), threshold=threshold, links=links)


def explicit_groups(columns: list[str], groups: list[list[str]]) -> Grouping:
    """Validate explicit groups: every column in exactly one group; columns left over form singletons."""
    seen: dict[str, int] = {}
    for gi, group in enumerate(groups):
        for col in group:
            if col not in columns:
                raise ValueError(f"group {gi} names column '{col}', which is not among the attributes")
            if col in seen:
                raise ValueError(f"column '{col}' is in groups {seen[col]} and {gi}")
            seen[col] = gi
    rest = [[c] for c in columns if c not in seen]
    return Grouping(groups=[list(g) for g in groups] + rest, threshold=float("nan"), links=[])
