"""Linkability attack (Giomi et al. 2023, section 4.2; anonymeter's ``LinkabilityEvaluator``).

The attacker holds two tables with disjoint columns of the same people (``aux_columns``) and links them
through the release: a target is linked when the ``n_neighbors`` nearest released rows of its first half and of
its second half share a row. The naive baseline picks the neighbours at random.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.attacks.confidence import AttackResult
from anon_pipeline.attacks.neighbours import nearest


def random_subsets(n_rows: int, n_sets: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n_sets`` random k-subsets of range(n_rows) (Floyd's algorithm, vectorised over the sets)."""
    k = min(k, n_rows)
    out = np.empty((n_sets, k), dtype=np.int64)
    for i, j in enumerate(range(n_rows - k, n_rows)):
        t = rng.integers(0, j + 1, size=n_sets)
        taken = (out[:, :i] == t[:, None]).any(axis=1)
        out[:, i] = np.where(taken, j, t)
    return out


def count_links(idx_0: np.ndarray, idx_1: np.ndarray) -> int:
    """Targets whose two neighbour sets share a released row."""
    return int((idx_0[:, :, None] == idx_1[:, None, :]).any(axis=(1, 2)).sum())


def _attack(targets: pd.DataFrame, released: pd.DataFrame, aux_columns, n_attacks: int, n_neighbors: int,
            rng: np.random.Generator) -> int:
    picked = targets.iloc[rng.choice(len(targets), size=n_attacks, replace=False)]
    idx = [nearest(released[list(cols)], picked[list(cols)], n_neighbors, rng) for cols in aux_columns]
    return count_links(*idx)


def linkability(original: pd.DataFrame, released: pd.DataFrame, control: pd.DataFrame | None,
                aux_columns: tuple[list[str], list[str]], n_attacks: int, rng: np.random.Generator,
                n_neighbors: int = 1, confidence_level: float = 0.95) -> AttackResult:
    if len(aux_columns) != 2 or not all(aux_columns) or set(aux_columns[0]) & set(aux_columns[1]):
        raise ValueError("linkability needs two non-empty, disjoint lists of columns")
    n_baseline = count_links(*(random_subsets(len(released), n_attacks, n_neighbors, rng) for _ in range(2)))
    n_success = _attack(original, released, aux_columns, n_attacks, n_neighbors, rng)
    n_control = (None if control is None
                 else _attack(control, released, aux_columns, n_attacks, n_neighbors, rng))
    return AttackResult("linkability", n_attacks, n_success, n_baseline, n_control, confidence_level,
                        {"aux_columns": [list(c) for c in aux_columns], "n_neighbors": n_neighbors})
