"""Rare-value merging, partitions, discrete synthesis and synthetic-row privacy, against hand counts."""

import json

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.synthesis.discrete import sample_discrete, sampling_pool
from anon_pipeline.synthesis.ops import DatetimePartition, DiscreteSynthesis, GaussianNoise, RareValueMerge
from anon_pipeline.synthesis.privacy import closest_record, reproductions
from anon_pipeline.transforms.registry import FitContext

CTX = FitContext(column="c", seed=9)


def test_rare_value_merge_counts_by_hand():
    values = pd.Series(["a"] * 60 + ["b"] * 30 + ["c"] * 8 + ["d", "e"], dtype="str")
    op = RareValueMerge(RareValueMerge.Params(level=10, neutral="undefined"))
    plan = op.fit(values, CTX)
    # 5 values, T = 10 % -> each must cover 2 % (2 rows of 100): d and e (1 row each) merge.
    assert plan["threshold_percent"] == pytest.approx(2.0)
    assert (plan["merged_values"], plan["merged_rows"]) == (2, 2)
    out = op.apply(values, plan, CTX)
    assert out.value_counts().to_dict() == {"a": 60, "b": 30, "c": 8, "undefined": 2}
    # T = 50 % -> 10 % each: c, d, e (10 rows) merge; the plan names only the values kept.
    plan = RareValueMerge(RareValueMerge.Params(level=50)).fit(values, CTX)
    assert (plan["merged_values"], plan["merged_rows"]) == (3, 10)
    assert sorted(plan["keep"]) == ["a", "b"]
    json.dumps(plan)


def test_age_bands_and_time_partitions():
    op = DatetimePartition(DatetimePartition.Params(partition="age_bands"))
    ages = pd.Series([0, 0.5, 1, 2.9, 3, 12, 17, 19, 20, 99, 100, 104])
    assert op.apply(ages, op.fit(ages, CTX), CTX).tolist() == [
        "<1", "<1", "1-3", "1-3", "3-7", "12-17", "17-20", "17-20", "20-25", "95-100", "100+", "100+"]
    stamps = pd.Series(pd.to_datetime(["2023-06-01 10:27:59", "2023-06-01 10:30:00", "1984-02-29 23:59:00"]))
    slot = DatetimePartition(DatetimePartition.Params(partition="10min"))
    assert slot.apply(stamps, {"partition": "10min"}, CTX).tolist() == [
        "2023-06-01 10:20", "2023-06-01 10:30", "1984-02-29 23:50"]
    for name, expected in [("day", "2023-06-01"), ("month", "2023-06"), ("birth_year", "2023")]:
        assert named(stamps, name)[0] == expected


def named(values, name):
    op = DatetimePartition(DatetimePartition.Params(partition=name))
    return op.apply(values, op.fit(values, CTX), CTX).tolist()


def test_custom_edges():
    op = DatetimePartition(DatetimePartition.Params(edges=[0, 10, 20], open_ends=False, labels=["low", "high"]))
    values = pd.Series([0, 9.99, 10, 19, 20, -1])
    out = op.apply(values, op.fit(values, CTX), CTX)
    assert out.iloc[:4].tolist() == ["low", "low", "high", "high"] and out.iloc[4:].isna().all()
    dates = pd.Series(pd.to_datetime(["2019-12-31", "2020-01-01", "2021-06-01"]))
    op = DatetimePartition(DatetimePartition.Params(edges=["2020-01-01", "2021-01-01"]))
    assert op.apply(dates, op.fit(dates, CTX), CTX).tolist() == [
        "<2020-01-01", "2020-01-01-2021-01-01", "2021-01-01+"]


def test_partition_params_need_exactly_one_kind():
    with pytest.raises(ValueError):
        DatetimePartition.Params()
    with pytest.raises(ValueError):
        DatetimePartition.Params(partition="day", edges=[1, 2])


def test_discrete_synthesis_frequencies_and_min_count():
    raw = pd.DataFrame({"a": ["x"] * 700 + ["y"] * 299 + ["z"], "b": [1] * 700 + [2] * 299 + [3]})
    out = sample_discrete(raw, 100_000, np.random.default_rng(0))
    share = out.a.value_counts(normalize=True)
    assert share["x"] == pytest.approx(0.7, abs=0.01) and share["y"] == pytest.approx(0.299, abs=0.01)
    assert set(zip(out.a, out.b)) <= set(zip(raw.a, raw.b))
    pool = sampling_pool(raw, min_count=2)
    assert (pool.excluded_tuples, pool.excluded_rows, pool.n_tuples) == (1, 1, 3)
    op = DiscreteSynthesis(DiscreteSynthesis.Params(min_count=2))
    plan = op.fit(raw, CTX)
    synth = op.apply(raw, plan, CTX)
    assert "z" not in set(synth.a) and synth.index.equals(raw.index)
    assert reproductions(raw, synth, ["a", "b"]).reproduce_unique_raw == 0


def test_reproductions_counted_by_hand():
    raw = pd.DataFrame({"q": ["a", "a", "b", "c"]})
    syn = pd.DataFrame({"q": ["a", "b", "b", "d", "c"]})
    rep = reproductions(raw, syn, ["q"])
    # a (raw twice), b, b, c (raw once each) reproduce; d does not. b and c were unique in raw.
    assert (rep.reproduce_raw, rep.reproduce_unique_raw) == (4, 3)
    assert (rep.raw_unique_tuples, rep.raw_unique_tuples_reproduced) == (2, 2)


def test_closest_record_by_hand():
    raw = pd.DataFrame({"x": [0.0, 2.0, 4.0, 6.0]})   # sigma = sqrt(5); raw-to-raw nearest distance 2
    syn = pd.DataFrame({"x": [1.0, 1.0, 4.0, 7.0]})     # distances 1, 1, 0, 1
    out = closest_record(raw, syn, ["x"])
    s = np.sqrt(5.0)
    assert out.median == pytest.approx(1 / s) and out.raw_median == pytest.approx(2 / s)
    assert out.median_ratio == pytest.approx(0.5)


def test_noise_scale_is_a_fraction_of_sigma():
    values = pd.Series(np.random.default_rng(1).normal(5.0, 2.0, 50_000))
    op = GaussianNoise(GaussianNoise.Params(scale=0.5))
    plan = op.fit(values, CTX)
    diff = op.apply(values, plan, CTX) - values
    assert diff.std() == pytest.approx(0.5 * values.std(ddof=0), rel=0.02)
    assert op.apply(values, plan, CTX).equals(op.apply(values, plan, CTX))


@pytest.mark.parametrize("dtype", ["int64", "Int64"])
def test_noise_rounds_back_to_the_integer_dtype(dtype):
    values = pd.Series([20, 30, 40, 50], dtype=dtype)
    op = GaussianNoise(GaussianNoise.Params(scale=0.3, round_integers=True, clip=True))
    out = op.apply(values, op.fit(values, CTX), CTX)
    assert out.dtype == values.dtype and out.between(20, 50).all()
