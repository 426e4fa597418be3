import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms import FitContext, get_op
from anon_pipeline_tests.transforms.helpers import run_op


def test_codes_round_trip_through_the_key_table():
    values = pd.Series(["Europe", "APAC", "Europe", "Africa"], name="col")
    out, plan, keys = run_op("encode", values, key_table="region")
    table = keys["region"]
    decoded = out.map(dict(zip(table["code"], table["value"])))
    assert decoded.tolist() == values.tolist()
    assert set(table["value"]) == {"Europe", "APAC", "Africa"} and table["code"].is_unique


def test_codes_are_not_derivable_from_values_or_seed():
    values = pd.Series(["a", "b", "c", "d", "e", "f"])
    plans = [run_op("encode", values)[1]["codes"] for _ in range(3)]
    # Same input, same seed: still different codes (drawn from the OS CSPRNG), never the value itself.
    assert plans[0] != plans[1] or plans[1] != plans[2]
    assert all(code != value for p in plans for value, code in p.items())


def test_integer_style_is_a_permutation():
    _, plan, _ = run_op("encode", list("abcdefg"), style="integer")
    assert sorted(int(c) for c in plan["codes"].values()) == list(range(7))


def test_replay_refuses_unseen_values():
    op_cls = get_op("encode")
    op = op_cls(op_cls.Params())
    ctx = FitContext(column="col", seed=0)
    plan = op.fit(pd.Series(["a"]), ctx)
    with pytest.raises(TransformError, match="not seen"):
        op.apply(pd.Series(["a", "b"]), plan, ctx)
