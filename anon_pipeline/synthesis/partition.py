"""Date/time partition (Borisov et al. 2023): a date, time or age becomes an interval label.

Named partitions: the paper's age bands (<1, 1-3, 3-7, 7-12, 12-17, 17-20, then 5-year bands to 100, 100+),
birth year, 10-minute slot, day and month; or custom edges (numbers, or dates for datetime columns). The
result is a dictionary attribute (string labels), ready for rare-value merging and discrete synthesis.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

NamedPartition = Literal["age_bands", "birth_year", "10min", "day", "month"]

AGE_EDGES: list[float] = [0, 1, 3, 7, 12, 17, 20, *range(25, 101, 5)]


def interval_labels(edges: list, open_ends: bool) -> list[str]:
    """'a-b' for [a, b); with open ends also '<first' and 'last+'."""
    text = [_edge_text(e) for e in edges]
    labels = [f"{a}-{b}" for a, b in zip(text[:-1], text[1:])]
    if open_ends:
        labels = [f"<{text[0]}", *labels, f"{text[-1]}+"]
    return labels


def _edge_text(edge) -> str:
    if isinstance(edge, (pd.Timestamp, date)):
        ts = pd.Timestamp(edge)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
    return f"{edge:g}" if isinstance(edge, (int, float, np.number)) else str(edge)


def cut(values: pd.Series, edges: list, *, open_ends: bool = True, labels: list[str] | None = None) -> pd.Series:
    """Half-open [e_i, e_{i+1}) bins as string labels; without open ends, values outside the edges are missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        edges = [pd.Timestamp(e) for e in edges]
        if values.dt.tz is not None:
            edges = [e.tz_localize(values.dt.tz) if e.tzinfo is None else e for e in edges]
        keys = values.to_numpy()
        edge_arr = np.array([e.to_datetime64() for e in edges]).astype(keys.dtype)
    else:
        keys = values.to_numpy(dtype=float, na_value=np.nan)
        edge_arr = np.asarray(edges, dtype=float)
    if np.any(np.diff(edge_arr.astype("int64") if edge_arr.dtype.kind == "M" else edge_arr) <= 0):
        raise ValueError("partition edges must increase strictly")
    names = labels if labels is not None else interval_labels(list(edges), open_ends)
    expected = len(edges) + 1 if open_ends else len(edges) - 1
    if len(names) != expected:
        raise ValueError(f"{len(names)} labels given for {expected} intervals")
    slot = np.searchsorted(edge_arr, keys, side="right")   # 0 = below the first edge
    missing = pd.isna(values).to_numpy()
    if not open_ends:
        outside = (slot == 0) | (slot == len(edges))
        missing = missing | outside
        slot = slot - 1
    table = np.asarray(names, dtype=object)
    out = table[np.clip(slot, 0, len(table) - 1)]
    out[missing] = None
    return pd.Series(out, index=values.index, name=values.name, dtype="str")


def ages_at(values: pd.Series, reference: date) -> pd.Series:
    """Completed years between a birth date and the reference date."""
    born = pd.to_datetime(values)
    ref = pd.Timestamp(reference)
    years = ref.year - born.dt.year
    before_birthday = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
    return (years - before_birthday.astype(int)).astype("float")


def named_partition(values: pd.Series, partition: NamedPartition, *, reference: date | None = None) -> pd.Series:
    """Apply one of the paper's named partitions."""
    if partition == "age_bands":
        if pd.api.types.is_datetime64_any_dtype(values):
            if reference is None:
                raise ValueError("age bands of a date need the policy's reference_date")
            values = ages_at(values, reference)
        if (values.dropna() < 0).any():
            raise ValueError(f"{int((values.dropna() < 0).sum())} negative age(s)")
        return cut(values, AGE_EDGES[1:], open_ends=True)
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values)
    fmt = {"birth_year": "%Y", "10min": "%Y-%m-%d %H:%M", "day": "%Y-%m-%d", "month": "%Y-%m"}[partition]
    stamped = values.dt.floor("10min") if partition == "10min" else values
    out = stamped.dt.strftime(fmt)
    return out.astype("str")
