"""Columns of several tables encoded alike, so attacks compare them with numpy.

A column is numeric when it holds non-boolean numbers in every table (anonymeter's rule:
``select_dtypes("number")``), and then becomes float64 with NaN for missing values; otherwise it is categorical
and becomes integer codes shared by all the tables, missing values being a code of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from anon_pipeline.errors import InputDataError


@dataclass(frozen=True)
class Column:
    name: str
    numeric: bool
    values: list[np.ndarray]   # per table: float64 (numeric) or int64 codes (categorical)
    missing: list[np.ndarray]  # per table: bool


def is_numeric(series: pd.Series) -> bool:
    return bool(is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype))


def require_columns(frames: dict[str, pd.DataFrame], columns: Sequence[str]) -> None:
    for label, frame in frames.items():
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputDataError(None, f"the {label} table lacks {len(missing)} column(s) an attack needs: "
                                 f"{missing}", column=missing[0], rule="attack_columns")


def encode(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> list[Column]:
    out = []
    for name in columns:
        kinds = {is_numeric(f[name]) for f in frames}
        if len(kinds) > 1:
            raise InputDataError(None, "numbers in one table and not in another: attacks need every table in "
                                 "the released representation", column=name, rule="attack_column_types")
        missing = [pd.isna(f[name]).to_numpy() for f in frames]
        if kinds == {True}:
            values = [f[name].to_numpy(dtype="float64", na_value=np.nan) for f in frames]
            out.append(Column(name, True, values, missing))
            continue
        joined = pd.concat([f[name].astype(object) for f in frames], ignore_index=True)
        codes, _ = pd.factorize(joined, use_na_sentinel=False)
        bounds = np.cumsum([0] + [len(f) for f in frames])
        out.append(Column(name, False, [codes[a:b].astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])],
                          missing))
    return out
