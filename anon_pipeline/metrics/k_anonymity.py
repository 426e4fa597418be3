"""k-anonymity from one group-by over integer codes: K, k = K/N in %, class sizes, rows below a target, and
the three classes of source document C.

Missing values in a quasi-identifier are a value of their own (they form their own classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anon_pipeline.metrics.encoding import encode_frame, joint_ids


def encode_codes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 class id per row: the joint code of ``columns`` (missing values are their own code)."""
    encoded = encode_frame(df, list(columns))
    return joint_ids([encoded[c] for c in dict.fromkeys(columns)], len(df))[0].astype(np.int64)


def class_sizes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Size of the equivalence class of every class (not every row)."""
    if len(df) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.bincount(encode_codes(df, columns))


@dataclass(frozen=True)
class KAnonymity:
    quasi_identifiers: list[str]
    n_rows: int
    K: int
    n_classes: int
    #: class size -> number of classes of that size
    class_size_distribution: dict[int, int] = field(default_factory=dict)

    @property
    def k_percent(self) -> float:
        return 100.0 * self.K / self.n_rows if self.n_rows else 0.0

    @property
    def category(self) -> str:
        """Source document C's three classes."""
        if self.n_rows and self.K == self.n_rows:
            return "not de-anonymisable (k = 100 %)"
        if self.K > 1:
            return "partially allows de-anonymisation (K > 1)"
        return "allows identification (K = 1)"

    def rows_below(self, k: int) -> int:
        return int(sum(size * n for size, n in self.class_size_distribution.items() if size < k))

    def classes_below(self, k: int) -> int:
        return int(sum(n for size, n in self.class_size_distribution.items() if size < k))

    def as_dict(self, k_target: int | None = None) -> dict:
        out = {"quasi_identifiers": list(self.quasi_identifiers), "N": self.n_rows, "K": self.K,
               "k_percent": self.k_percent, "n_classes": self.n_classes, "category": self.category,
               "class_size_distribution": {int(s): int(n) for s, n in self.class_size_distribution.items()}}
        if k_target is not None:
            out["k_target"] = k_target
            out["rows_below_k"] = self.rows_below(k_target)
            out["classes_below_k"] = self.classes_below(k_target)
        return out


def k_from_sizes(sizes: np.ndarray, quasi_identifiers: list[str], n_rows: int) -> KAnonymity:
    """KAnonymity from the class sizes of one group-by (classes of size 0 are ignored)."""
    sizes = sizes[sizes > 0]
    dist_sizes, dist_counts = np.unique(sizes, return_counts=True)
    return KAnonymity(
        quasi_identifiers=list(quasi_identifiers),
        n_rows=int(n_rows),
        K=int(sizes.min()) if sizes.size else 0,
        n_classes=int(sizes.size),
        class_size_distribution={int(s): int(c) for s, c in zip(dist_sizes, dist_counts)},
    )


def k_anonymity(df: pd.DataFrame, quasi_identifiers: list[str]) -> KAnonymity:
    return k_from_sizes(class_sizes(df, list(quasi_identifiers)), list(quasi_identifiers), len(df))
