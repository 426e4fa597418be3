"""Per-column moments (count, mean, population variance, min, max) gathered batch by batch and merged.

What a fit from statistics needs (a noise sigma, Silverman's bandwidths, the clip range of a synthesis) without
holding the rows: each batch is summarised with numpy (mean, then the squared deviations from it, so datetimes in
nanoseconds keep their precision), and summaries merge with the pairwise update of Chan, Golub and LeVeque (1979):
``M2 = M2_a + M2_b + delta^2 n_a n_b / n``. The merged sigma equals the whole column's ``np.nanstd`` (ddof 0) to
float rounding, in any order of merging. Missing values are skipped per column; ``complete`` counts the rows with
every column present (Silverman's N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anon_pipeline.stats.floats import as_float


@dataclass(frozen=True)
class Moments:
    columns: tuple[str, ...]
    #: Rows summarised (missing values included).
    rows: float
    #: Rows with every column present.
    complete: float
    #: Per column: non-missing rows, mean, sum of squared deviations from the mean, min and max (NaN when empty).
    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def empty(cls, columns: list[str]) -> "Moments":
        zeros = np.zeros(len(columns))
        nan = np.full(len(columns), np.nan)
        return cls(tuple(columns), 0.0, 0.0, zeros, zeros, zeros, nan, nan)

    @classmethod
    def of(cls, data: np.ndarray, columns: list[str], weights: np.ndarray | None = None) -> "Moments":
        """The moments of an (n, m) float array, each row counted ``weights`` times (default once)."""
        data = np.asarray(data, dtype=float).reshape(len(data), len(columns))
        w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float)
        present = ~np.isnan(data)
        wp = present * w[:, None]
        count = wp.sum(axis=0)
        filled = np.where(present, data, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, (filled * wp).sum(axis=0) / np.where(count > 0, count, 1), 0.0)
        m2 = (np.where(present, filled - mean, 0.0) ** 2 * wp).sum(axis=0)
        some = present.any(axis=0)
        low = np.where(some, np.min(np.where(present, data, np.inf), axis=0, initial=np.inf), np.nan)
        high = np.where(some, np.max(np.where(present, data, -np.inf), axis=0, initial=-np.inf), np.nan)
        return cls(tuple(columns), float(w.sum()), float(w[present.all(axis=1)].sum()), count, mean, m2, low, high)

    @classmethod
    def of_frame(cls, frame: pd.DataFrame | pd.Series, columns: list[str] | None = None,
                 weights: np.ndarray | None = None) -> "Moments":
        """The moments of numeric or datetime columns (datetimes in nanoseconds, as ``stats.floats.as_float``)."""
        if isinstance(frame, pd.Series):
            return cls.of(as_float(frame)[:, None], [str(frame.name)], weights)
        columns = list(frame.columns) if columns is None else list(columns)
        data = np.column_stack([as_float(frame[c]) for c in columns]) if columns else np.zeros((len(frame), 0))
        return cls.of(data, columns, weights)

    def merge(self, other: "Moments") -> "Moments":
        if self.columns != other.columns:
            raise ValueError(f"moments of {list(self.columns)} and {list(other.columns)} do not merge")
        n = self.count + other.count
        safe = np.where(n > 0, n, 1)
        delta = other.mean - self.mean
        mean = np.where(n > 0, self.mean + delta * other.count / safe, 0.0)
        m2 = self.m2 + other.m2 + delta ** 2 * self.count * other.count / safe
        return Moments(self.columns, self.rows + other.rows, self.complete + other.complete, n, mean, m2,
                       np.fmin(self.low, other.low), np.fmax(self.high, other.high))

    def sigma(self) -> np.ndarray:
        """Population sigma (ddof 0) per column; 0 for a column with no value (as ``np.nanstd`` gives NaN for)."""
        return np.sqrt(np.where(self.count > 0, self.m2 / np.where(self.count > 0, self.count, 1), 0.0))

    def select(self, columns: list[str]) -> "Moments":
        """Some of the columns (``complete`` still counts the rows complete over all of them)."""
        at = [self.columns.index(c) for c in columns]
        return Moments(tuple(columns), self.rows, self.complete, self.count[at], self.mean[at], self.m2[at],
                       self.low[at], self.high[at])

    def as_frame(self) -> pd.DataFrame:
        """One row per column (and the row counts repeated), to store beside a staged table."""
        return pd.DataFrame({"column": list(self.columns), "rows": self.rows, "complete": self.complete,
                             "count": self.count, "mean": self.mean, "m2": self.m2, "low": self.low,
                             "high": self.high})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Moments":
        rows = float(frame["rows"].iloc[0]) if len(frame) else 0.0
        complete = float(frame["complete"].iloc[0]) if len(frame) else 0.0
        return cls(tuple(frame["column"].astype(str)), rows, complete,
                   *(frame[c].to_numpy(dtype=float) for c in ("count", "mean", "m2", "low", "high")))
