"""Continuous synthesis (Borisov et al. 2023) of a column group, as a pure function on frames.

Numeric and datetime columns are synthesised from the Silverman KDE (a shared source row per output row plus
h_j * N(0, 1)); columns listed as ``discrete`` are copied from the same source row, which makes the result a
draw from the mixed product kernel and keeps the dependence between the two kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anon_pipeline.stats.floats import as_float, from_float
from anon_pipeline.stats.kde import reflect_into, sample_mixture, silverman_factor
from anon_pipeline.stats.moments import Moments


@dataclass(frozen=True)
class KdeFit:
    columns: list[str]
    bandwidth: list[float]
    sigma: list[float]
    n: int
    #: Each column's observed range over the whole input (the clip range): a batch drawing from some of the rows
    #: keeps the table's range, not its own. Empty: the rows drawn from give it (plans fitted before these).
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"columns": self.columns, "bandwidth": self.bandwidth, "sigma": self.sigma, "n": self.n,
                "silverman_factor": silverman_factor(max(self.n, 1), len(self.columns)),
                "low": self.low, "high": self.high}

    @classmethod
    def of(cls, plan: dict) -> "KdeFit":
        return cls(columns=plan["columns"], bandwidth=plan["bandwidth"], sigma=plan["sigma"], n=plan["n"],
                   low=plan.get("low", []), high=plan.get("high", []))


#: Integer columns with more distinct values than this are continuous (smoothed), fewer are categories (copied).
INTEGER_CATEGORIES = 20


def is_smoothed(series: pd.Series, integer_categories: int = INTEGER_CATEGORIES) -> bool:
    """The default kind of a column in synthesis: floats and datetimes are continuous, and so are integers with
    more than ``integer_categories`` distinct values (an age or an amount is a number, a code 1..5 a category)."""
    if pd.api.types.is_float_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return int(series.nunique(dropna=True)) > integer_categories
    return False


def fit_kde(frame: pd.DataFrame, columns: list[str]) -> KdeFit:
    return kde_of_moments(Moments.of_frame(frame, columns))


def kde_of_moments(moments: Moments) -> KdeFit:
    """Silverman's bandwidths from the columns' moments: N the complete rows, sigma each column's population sigma
    (so moments merged over batches give the whole table's bandwidths)."""
    n = int(round(moments.complete))
    sigma = moments.sigma()
    h = silverman_factor(max(n, 1), len(moments.columns)) * sigma
    floats = lambda a: [float(x) for x in a]  # noqa: E731
    return KdeFit(columns=list(moments.columns), bandwidth=floats(h), sigma=floats(sigma), n=n,
                  low=floats(moments.low), high=floats(moments.high))


def synthesize_continuous(frame: pd.DataFrame, fit: KdeFit, n: int, rng: np.random.Generator, *,
                          discrete: Sequence[str] = (), clip: bool = False, round_integers: bool = False,
                          index: pd.Index | None = None, source: np.ndarray | None = None) -> pd.DataFrame:
    """``n`` rows from the group's KDE; ``discrete`` columns ride along from the shared source row.

    ``source`` restricts the rows that may be drawn (positions), e.g. to leave rare discrete tuples out.
    """
    data = np.column_stack([as_float(frame[c]) for c in fit.columns])
    points, tau = sample_mixture(data, np.asarray(fit.bandwidth), n, rng, source=source)
    if clip:
        bounded = len(fit.low) == len(fit.columns)
        points = reflect_into(points, fit.low if bounded else np.nanmin(data, axis=0),
                              fit.high if bounded else np.nanmax(data, axis=0))
    if index is None:
        index = frame.index if n == len(frame) else pd.RangeIndex(n)
    out = {}
    for j, col in enumerate(fit.columns):
        out[col] = from_float(points[:, j], frame[col], index, rounded=round_integers)
    for col in discrete:
        out[col] = frame[col].iloc[tau].set_axis(index)
    return pd.DataFrame(out, index=index)[[c for c in frame.columns if c in out]]
