"""A table given as counts (``metrics.counted``) measures exactly as its rows do: every figure of ``measure`` and
every privacy target, on random tables split into random batches, with missing values and suppressed rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anon_pipeline.metrics.counted import CountedRows, RowCounter
from anon_pipeline.metrics.measure import measure
from anon_pipeline.criteria import evaluate_targets


def _table(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": pd.Series(rng.choice(["10-20", "20-30", "30-40", "*"], n, p=[.3, .3, .3, .1]), dtype="str"),
        "zip": pd.Series(rng.choice(["A", "B", "C", None], n), dtype="str"),
        "level": pd.Series(rng.choice(["L0", "L1", "L2"], n), dtype="str"),
        "disease": pd.Series(rng.choice(["flu", "cold", "hiv", "cancer"], n), dtype="str"),
        "income": rng.choice([10.0, 20.5, 31.0, 45.0, np.nan], n),
    })
    # Suppressed rows hold the marker in every quasi-identifier.
    frame.loc[frame["age"] == "*", ["zip", "level"]] = "*"
    return frame


def _counted(frame: pd.DataFrame, cuts: list[int]) -> CountedRows:
    counter = RowCounter(frame.columns)
    for lo, hi in zip([0, *cuts], [*cuts, len(frame)]):
        counter.add(frame.iloc[lo:hi])
    return counter.result()


def _same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, float) and not np.isnan(a):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    elif isinstance(a, (list, tuple)) and a and isinstance(a[0], (float, dict, list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(1, 300), n_cuts=st.integers(0, 5),
       suppressed=st.sampled_from(["exclude", "class"]))
def test_every_measure_on_counts_equals_the_measure_on_rows(seed, n, n_cuts, suppressed):
    frame = _table(seed, n)
    cuts = sorted(np.random.default_rng(seed + 1).integers(0, n + 1, n_cuts).tolist())
    counted = _counted(frame, cuts)
    assert counted.n_rows == n and len(counted.frame) <= n
    params = dict(k=3, suppressed=suppressed, suppression_marker="*", show_smallest=3)
    for qis, sas in ((["age", "zip", "level"], ["disease", "income"]), (["age"], ["disease"]), ([], ["zip"])):
        listed = measure(frame, qis, sas, **params)
        _same(listed, measure(counted, qis, sas, **params))
        # Without the smallest classes listed, classes are numbered in no particular order: the same figures.
        listed.pop("smallest_classes", None)
        for table in (frame, counted):
            _same(listed, measure(table, qis, sas, **{**params, "show_smallest": 0}))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_privacy_targets_on_counts_equal_those_on_rows(seed):
    frame = _table(seed, 500)
    section = {"k": 4, "l": [{"l": 2}], "t": [{"t": 0.4}], "delta": [{"delta": 2.0}], "beta": [{"beta": 3.0}],
               "risk": {"prosecutor_max": 0.5, "marketer": 0.3, "records_at_risk_share": 0.1}}
    on_rows = evaluate_targets(section, frame, ["age", "zip"], ["disease"], all_quasi_identifiers=["age", "zip", "level"])
    on_counts = evaluate_targets(section, _counted(frame, [100, 101, 333]), ["age", "zip"], ["disease"],
                                 all_quasi_identifiers=["age", "zip", "level"])
    assert [r.name for r in on_rows] == [r.name for r in on_counts]
    for a, b in zip(on_rows, on_counts):
        assert (a.passed, a.blocking) == (b.passed, b.blocking)
        _same(a.measured, b.measured)
        _same(a.metadata, b.metadata)


def test_value_counts_keep_missing_values_and_types():
    frame = pd.DataFrame({"a": pd.Series(["x", None, "y", "x"], dtype="str"), "b": [1.5, 2.5, 1.5, np.nan]})
    counted = _counted(frame, [1, 3])
    for column, expected in (("a", {"x": 2, "y": 1}), ("b", {1.5: 2, 2.5: 1})):
        counts = counted.value_counts(column)
        assert counts[counts.index.notna()].to_dict() == expected and int(counts[counts.index.isna()].sum()) == 1
    assert pd.api.types.is_float_dtype(counted.value_counts("b").index.dtype)
    assert pd.api.types.is_string_dtype(counted.value_counts("a").index.dtype)


def test_an_empty_table_counts_to_nothing():
    counted = RowCounter(["a"]).result()
    assert counted.n_rows == 0 and list(counted.frame.columns) == ["a"]


def test_batches_after_a_mostly_distinct_one_are_counted_once_at_the_end_with_the_same_counts():
    rng = np.random.default_rng(3)
    distinct = pd.DataFrame({"a": pd.Series([f"a{i}" for i in range(100)], dtype="str"),
                             "b": pd.Series(rng.choice(["x", "y", None], 100), dtype="str")})
    repeats = distinct.iloc[rng.integers(0, 100, 300)]  # every row of these batches seen before, some many times
    counter = RowCounter(["a", "b"])
    for batch in (distinct, repeats.iloc[:150], repeats.iloc[150:]):
        counter.add(batch)
    assert counter._mostly_distinct  # the later batches took the path this test is about
    counted = counter.result()
    got = {(a, None if pd.isna(b) else b): int(w)
           for a, b, w in zip(counted.frame["a"], counted.frame["b"], counted.weights)}
    rows = pd.concat([distinct, repeats])
    expected = {(a, None if pd.isna(b) else b): int(n)
                for (a, b), n in rows.value_counts(["a", "b"], dropna=False).items()}
    assert got == expected and counted.n_rows == 400
