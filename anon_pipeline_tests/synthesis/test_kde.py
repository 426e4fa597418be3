"""Silverman bandwidth against scipy, and what kernel-density synthesis keeps."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import gaussian_kde

from anon_pipeline.synthesis.continuous import fit_kde, synthesize_continuous
from anon_pipeline.stats.kde import silverman_bandwidth, silverman_factor
from anon_pipeline.synthesis.ops import KdeSynthesis
from anon_pipeline.transforms.registry import FitContext


@pytest.mark.parametrize("n,m", [(50, 1), (1000, 2), (333, 5)])
def test_bandwidth_matches_scipy_silverman(n, m):
    data = np.random.default_rng(n).normal(size=(n, m)) * np.arange(1, m + 1)
    kde = gaussian_kde(data.T, bw_method="silverman")
    assert silverman_factor(n, m) == pytest.approx(kde.factor)
    # scipy's kernel covariance is factor^2 * cov with the N-1 variance; ours uses 1/N.
    scipy_h = np.sqrt(np.diag(kde.covariance)) * math.sqrt((n - 1) / n)
    assert np.allclose(silverman_bandwidth(data), scipy_h)


def test_bivariate_normal_correlation_survives_synthesis():
    rho, n = 0.8, 20_000
    rng = np.random.default_rng(11)
    xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    raw = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    fit = fit_kde(raw, ["x", "y"])
    syn = synthesize_continuous(raw, fit, n, np.random.default_rng(3))
    r = np.corrcoef(syn.x, syn.y)[0, 1]
    f = silverman_factor(n, 2)
    # Independent per-axis kernels inflate each variance by (1 + f^2) and leave the covariance: r / (1 + f^2).
    assert abs(r - rho) < 0.05
    assert r == pytest.approx(rho / (1 + f * f), abs=0.01)
    assert syn.x.var() == pytest.approx(1 + f * f, rel=0.05)


def test_source_row_is_shared_with_discrete_columns():
    rng = np.random.default_rng(4)
    lab = rng.choice(["p", "q"], 2000)
    raw = pd.DataFrame({"lab": lab, "x": np.where(lab == "p", 0.0, 100.0) + rng.normal(size=2000)})
    op = KdeSynthesis(KdeSynthesis.Params(discrete=["lab"]))
    ctx = FitContext(column="g", seed=1)
    out = op.apply(raw, op.fit(raw, ctx), ctx)
    assert ((out.lab == "p") == (out.x < 50)).all()
    assert not out.x.isin(raw.x).any()


def test_op_is_reproducible_and_records_its_seed():
    raw = pd.DataFrame({"a": np.random.default_rng(0).normal(size=300), "n": np.arange(300)})
    op = KdeSynthesis(KdeSynthesis.Params(clip=True, round_integers=True))
    ctx = FitContext(column="g", seed=42)
    plan = op.fit(raw, ctx)
    first, second = op.apply(raw, plan, ctx), op.apply(raw, op.fit(raw, ctx), ctx)
    pd.testing.assert_frame_equal(first, second)
    assert isinstance(plan["seed"], int) and plan["policy_seed"] == 42
    other = op.apply(raw, op.fit(raw, FitContext(column="g", seed=43)), ctx)
    assert not first.equals(other)
    assert first.n.dtype == raw.n.dtype and first.n.between(0, 299).all()
    assert first.a.between(raw.a.min(), raw.a.max()).all()


def test_output_size_on_request():
    raw = pd.DataFrame({"a": np.arange(100.0)}, index=np.arange(100) * 7)
    op = KdeSynthesis(KdeSynthesis.Params(rows=250))
    ctx = FitContext(column="g", seed=1)
    plan = op.fit(raw, ctx)
    out = op.apply(raw, plan, ctx)
    assert len(out) == 250 and plan["row_count_changes"] and list(out.index) == list(range(250))


def test_mixed_group_can_leave_rare_discrete_tuples_out():
    raw = pd.DataFrame({"x": np.arange(10.0), "lab": list("aaaaabbbbc")})
    op = KdeSynthesis(KdeSynthesis.Params(discrete=["lab"], min_count=2, rows=2000))
    ctx = FitContext(column="g", seed=1)
    plan = op.fit(raw, ctx)
    out = op.apply(raw, plan, ctx)
    assert (plan["excluded_tuples"], plan["excluded_rows"]) == (1, 1)
    assert set(out.lab) == {"a", "b"}
    assert out.lab.value_counts(normalize=True)["a"] == pytest.approx(5 / 9, abs=0.04)


def test_grouped_synthesis_splits_by_association_and_keeps_dependence():
    from anon_pipeline.synthesis.ops import GroupedSynthesis

    rng = np.random.default_rng(8)
    n = 5000
    x = rng.normal(size=n)
    raw = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.3, size=n), "z": rng.normal(size=n),
                        "c": rng.choice(["u", "v", "w"], n), "d": np.where(x > 0, "pos", "neg")})
    op = GroupedSynthesis(GroupedSynthesis.Params(threshold=0.3))
    ctx = FitContext(column="g", seed=2)
    plan = op.fit(raw, ctx)
    assert sorted(sorted(s["columns"]) for s in plan["subgroups"]) == [["c"], ["d", "x", "y"], ["z"]]
    assert {s["op"] for s in plan["subgroups"]} == {"discrete_synthesis", "kde_synthesis"}
    out = op.apply(raw, plan, ctx)
    assert list(out.columns) == list(raw.columns) and out.index.equals(raw.index)
    assert np.corrcoef(out.x, out.y)[0, 1] > 0.85
    assert abs(np.corrcoef(out.x, out.z)[0, 1]) < 0.05
    assert (out.x[out.d == "pos"].mean() - out.x[out.d == "neg"].mean()) > 1.2
    pd.testing.assert_frame_equal(out, op.apply(raw, op.fit(raw, ctx), ctx))
