"""The MST op end to end on a small table: the plan is JSON with the spend and no rows, the budget is split as
the algorithm says, a plan replays to the same rows, and at a large epsilon the marginals survive."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.dp.accounting import cdp_rho, gaussian_sigma
from anon_pipeline.dp.ops import DPMSTSynthesis
from anon_pipeline.errors import TransformError
from anon_pipeline.transforms.registry import FitContext, get_op

DOMAINS = {"sex": {"values": ["F", "M"]}, "smoker": {"values": ["yes", "no"]},
           "region": {"values": ["north", "south", "east", "west"]}, "age": {"bounds": [20, 80], "bins": 6}}


def people(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n, p=[0.45, 0.55])
    smoker = np.where(rng.random(n) < np.where(sex == "M", 0.5, 0.1), "yes", "no")      # depends on sex
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    age = np.where(smoker == "yes", rng.integers(20, 45, n), rng.integers(40, 80, n))    # depends on smoker
    return pd.DataFrame({"sex": sex, "smoker": smoker, "region": region, "age": age})


def op(epsilon: float, **extra) -> DPMSTSynthesis:
    return DPMSTSynthesis(DPMSTSynthesis.Params(epsilon=epsilon, columns=DOMAINS, **extra))


def tv(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> float:
    p = a.groupby(cols).size() / len(a)
    q = b.groupby(cols).size() / len(b)
    return float(0.5 * p.sub(q, fill_value=0).abs().sum())


def test_registered_and_plan_is_json_with_the_spend_and_no_rows():
    assert get_op("dp_mst_synthesis") is DPMSTSynthesis
    data = people()
    plan = op(1.0).fit(data, FitContext(column="g", seed=7))
    text = json.dumps(plan)                      # JSON-serialisable as is
    assert plan["dp"] == {"mechanism": "mst", "epsilon": 1.0, "delta": 1e-9, "rho": pytest.approx(cdp_rho(1.0, 1e-9)),
                          "neighbouring": "add or remove one row"}
    assert len(plan["tree"]) == 3 and plan["row_count_changes"]
    # No row and no exact statistic: no input row count, and no number equal to the size of the table but the noisy
    # count of rows to draw, an integer that the noise (OpenDP's, from the OS) now and then leaves at the true count.
    # (Noisy estimates such as n_hat are floats near it: their digits may match, their values do not.)
    assert "input_rows" not in plan and isinstance(plan["output_rows"], int)

    def numbers(value):
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []

    assert len(data) not in numbers({k: v for k, v in plan.items() if k != "output_rows"})
    assert len(text) < 10_000
    # rho is split in thirds: 1-way marginals (4 of them), tree selection, 2-way marginals (3 edges).
    rho = plan["dp"]["rho"]
    assert plan["model"]["sigma_1way"] == pytest.approx(gaussian_sigma(rho / 3 / 4))
    assert plan["model"]["sigma_2way"] == pytest.approx(gaussian_sigma(rho / 3 / 3))


def test_same_plan_same_rows_other_seed_other_rows():
    data, ctx = people(), FitContext(column="g", seed=7)
    mst = op(1.0, rows=500)
    plan = mst.fit(data, ctx)
    first, again = mst.apply(data, plan, ctx), mst.apply(data.iloc[:10], plan, ctx)
    pd.testing.assert_frame_equal(first, again)  # apply uses the plan only, not the rows it is given
    assert len(first) == 500 and list(first.columns) == list(data.columns)
    other = mst.fit(data, FitContext(column="g", seed=8))
    assert other["seed"] != plan["seed"] and not mst.apply(data, other, ctx).equals(first)


def test_large_epsilon_keeps_marginals_and_the_tree_follows_the_dependencies():
    data, ctx = people(), FitContext(column="g", seed=3)
    mst = op(50.0)
    plan = mst.fit(data, ctx)
    out = mst.apply(data, plan, ctx)
    assert abs(len(out) - len(data)) < 50                    # the noisy row count
    assert {frozenset(e) for e in plan["tree"]} >= {frozenset(["sex", "smoker"]), frozenset(["smoker", "age"])}
    binned = lambda f: f.assign(age=pd.cut(f["age"], np.linspace(20, 80, 7), right=False))  # noqa: E731
    for col in data.columns:
        assert tv(binned(data), binned(out), [col]) < 0.03, col
    assert tv(data, out, ["sex", "smoker"]) < 0.03
    assert tv(binned(data), binned(out), ["smoker", "age"]) < 0.05
    assert out["age"].between(20, 80).all() and pd.api.types.is_integer_dtype(out["age"])
    rate = out.groupby("sex")["smoker"].apply(lambda s: (s == "yes").mean())
    assert rate["M"] == pytest.approx(0.5, abs=0.05) and rate["F"] == pytest.approx(0.1, abs=0.05)


def test_small_epsilon_is_noisier_than_large():
    data, ctx = people(), FitContext(column="g", seed=3)
    err = {eps: tv(data, op(eps).apply(data, op(eps).fit(data, ctx), ctx), ["sex", "smoker", "region"])
           for eps in (0.05, 50.0)}
    assert err[0.05] > err[50.0]


def test_domains_come_from_the_params_and_bad_values_are_counted_not_shown():
    data, ctx = people(200), FitContext(column="g", seed=1)
    with pytest.raises(TransformError, match="undeclared: \\['region'\\]"):
        DPMSTSynthesis(DPMSTSynthesis.Params(epsilon=1, columns={k: v for k, v in DOMAINS.items() if k != "region"})
                       ).fit(data, ctx)
    bad = data.copy()
    bad.loc[:4, "region"] = "Atlantis"
    with pytest.raises(TransformError, match="5 row") as err:
        op(1.0).fit(bad, ctx)
    assert "Atlantis" not in str(err.value)
    # Numbers outside the public bounds are clipped into the end bins, never widen the domain.
    wide = data.assign(age=data["age"].where(data.index % 2 == 0, 200))
    out = op(1.0).apply(wide, op(1.0).fit(wide, ctx), ctx)
    assert out["age"].max() < 80
    with pytest.raises(ValueError, match="exactly one of"):
        DPMSTSynthesis.Params(epsilon=1, columns={"age": {"values": [1], "bounds": [0, 1]}})


def test_refine_captures_what_a_tree_cannot():
    """c = a xor b (95 %): every pair is independent, so no tree of 2-way marginals can carry it; a second parent
    (the 3-way marginal chosen by refine) does. The budget is split 1/5 each for 1-way, tree, 2-way, choice, 3-way."""
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 2, 5000), rng.integers(0, 2, 5000)
    c = np.where(rng.random(5000) < 0.95, a ^ b, 1 - (a ^ b))
    data = pd.DataFrame({"a": a, "b": b, "c": c}).astype(str)
    doms = {k: {"values": ["0", "1"]} for k in "abc"}
    ctx = FitContext(column="g", seed=1)
    share = {}
    for refine in (False, True):
        mst = DPMSTSynthesis(DPMSTSynthesis.Params(epsilon=20, columns=doms, refine=refine))
        plan = mst.fit(data, ctx)
        out = mst.apply(data, plan, ctx).astype(int)
        share[refine] = float(((out["a"] ^ out["b"]) == out["c"]).mean())
    assert share[False] == pytest.approx(0.5, abs=0.05)
    assert share[True] == pytest.approx(0.95, abs=0.03)
    rho = plan["dp"]["rho"]
    assert len(plan["model"]["second_parents"]) == 1
    assert plan["model"]["sigma_1way"] == pytest.approx(gaussian_sigma(rho / 5 / 3))
    assert plan["model"]["sigma_3way"] == pytest.approx(gaussian_sigma(rho / 5))
    json.dumps(plan)
