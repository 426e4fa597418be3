"""A column as a float array and back: numbers as they are, datetimes as nanoseconds since the epoch."""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_float(series: pd.Series) -> np.ndarray:
    """Numeric view of a column: datetimes become nanoseconds since the epoch (NaT -> NaN)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        ns = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        ns = ns.astype("datetime64[ns]")
        values = ns.to_numpy().astype("int64").astype(float)
        values[ns.isna().to_numpy()] = np.nan
        return values
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise TypeError("not numeric or datetime")
    return series.to_numpy(dtype=float, na_value=np.nan)


def from_float(values: np.ndarray, like: pd.Series, index: pd.Index, *, rounded: bool) -> pd.Series:
    """Back to ``like``'s dtype: datetimes from nanoseconds; integers when ``rounded`` (else float)."""
    if pd.api.types.is_datetime64_any_dtype(like):
        ns = pd.to_datetime(np.round(values), unit="ns")
        out = pd.Series(ns, index=index, name=like.name)
        tz = getattr(like.dt, "tz", None)
        return out.dt.tz_localize(tz) if tz is not None else out.astype(like.dtype)
    if rounded and pd.api.types.is_integer_dtype(like):
        out = pd.Series(np.round(values), index=index, name=like.name)
        # A numpy integer dtype cannot hold a missing value; the nullable Int64 can.
        numpy_int = not isinstance(like.dtype, pd.api.extensions.ExtensionDtype)
        return out.astype("Int64" if numpy_int and out.isna().any() else like.dtype)
    return pd.Series(values, index=index, name=like.name)
