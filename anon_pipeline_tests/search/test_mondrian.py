"""Mondrian: every class has at least k rows and every row lies in exactly one class whose box contains it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anon_pipeline.search.mondrian import mondrian


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 400), k=st.integers(1, 25), dims=st.integers(1, 3))
def test_classes_reach_k_and_cover_every_row_once(seed, n, k, dims):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{j}": rng.integers(0, rng.integers(1, 50), n) for j in range(dims)})
    if n < k:
        with pytest.raises(ValueError):
            mondrian(df, list(df.columns), k=k)
        return
    result = mondrian(df, list(df.columns), k=k)
    part = result.partition
    assert part.shape == (n,) and part.min() == 0 and part.max() == result.n_classes - 1
    assert np.bincount(part).min() >= k
    for j, col in enumerate(df.columns):
        box = result.bounds[col][part]
        assert np.all((box[:, 0] <= df[col].to_numpy()) & (df[col].to_numpy() <= box[:, 1]))


def test_splits_when_it_can():
    df = pd.DataFrame({"age": np.arange(100)})
    result = mondrian(df, ["age"], k=10)
    assert result.n_classes >= 8
    assert result.frame["age"].iloc[0].startswith("[0, ")


def test_non_numeric_column_is_an_error():
    with pytest.raises(ValueError, match="numeric"):
        mondrian(pd.DataFrame({"a": ["x", "y"]}), ["a"], k=1)
