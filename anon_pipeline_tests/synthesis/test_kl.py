"""KL divergence against hand-computed sums and an independent quadrature of scipy KDEs."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import gaussian_kde

from anon_pipeline.utility.kl import kl_continuous, kl_discrete, kl_from_frequencies


def test_kl_of_hand_computed_distributions():
    # 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.25) = ln 2; the raw-only third tuple (p^ = 0) contributes 0.
    assert kl_from_frequencies([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) == pytest.approx(math.log(2))
    # 0.2 ln(0.4) + 0.8 ln(1.6), evaluated by hand: -0.1832581 + 0.3760029
    assert kl_from_frequencies([0.2, 0.8], [0.5, 0.5]) == pytest.approx(0.1927448, abs=1e-7)


def test_kl_discrete_sums_over_raw_tuples_only():
    raw = pd.DataFrame({"x": ["a", "a", "b", "c"], "y": [1, 1, 2, 3]})
    anon = pd.DataFrame({"x": ["a", "b", "b", "d"], "y": [1, 2, 2, 4]})
    # p = (a .5, b .25, c .25); p^ = (a .25, b .5, c 0) and the tuple d (mass .25) is outside the raw support:
    # .25 ln(.25/.5) + .5 ln(.5/.25) = .25 ln 2
    out = kl_discrete(raw, anon, ["x", "y"])
    assert out.value == pytest.approx(0.25 * math.log(2))
    assert out.mass_outside_raw == pytest.approx(0.25)


def test_kl_continuous_matches_quadrature_of_scipy_kdes():
    rng = np.random.default_rng(5)
    raw = pd.DataFrame({"v": rng.normal(0.0, 1.0, 600)})
    anon = pd.DataFrame({"v": rng.normal(0.7, 1.3, 500)})
    est = kl_continuous(raw, anon, ["v"], mc_samples=4000, seed=1)

    def silverman_kde(x):
        kde = gaussian_kde(x, bw_method="silverman")
        # document C's sigma uses 1/N; scipy's covariance uses 1/(N-1): rescale to the same bandwidth.
        kde.set_bandwidth(kde.factor * math.sqrt((len(x) - 1) / len(x)))
        return kde

    f_raw, f_anon = silverman_kde(raw.v.to_numpy()), silverman_kde(anon.v.to_numpy())
    grid = np.linspace(-8, 10, 20001)
    pa, pr = f_anon(grid), f_raw(grid)
    exact = np.trapezoid(pa * np.log(pa / pr), grid)
    assert abs(est.value - exact) < 4 * est.standard_error
    assert est.standard_error < 0.1 * exact


def test_kl_continuous_of_identical_tables_is_zero():
    raw = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 1.5})
    assert kl_continuous(raw, raw.copy(), ["a", "b"], mc_samples=200).value == pytest.approx(0.0, abs=1e-12)


def test_kl_cost_is_bounded_by_max_centres():
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"v": rng.normal(size=50_000)})
    out = kl_continuous(raw, raw.sample(frac=1.0, random_state=1), ["v"], mc_samples=500, max_centres=2000)
    assert out.centres_raw == 2000 and out.centres_anon == 2000
    assert abs(out.value) < 0.05


def test_mixed_group_kl_penalises_broken_pairing():
    # Label decides the cluster; an anonymised table that swaps labels between clusters must score worse.
    rng = np.random.default_rng(2)
    lab = rng.choice(["p", "q"], 1000)
    x = np.where(lab == "p", 0.0, 10.0) + rng.normal(size=1000)
    raw = pd.DataFrame({"lab": lab, "x": x})
    kept = pd.DataFrame({"lab": lab, "x": x + rng.normal(scale=0.2, size=1000)})
    swapped = pd.DataFrame({"lab": rng.permutation(lab), "x": x})
    good = kl_continuous(raw, kept, ["x"], ["lab"], mc_samples=1000).value
    bad = kl_continuous(raw, swapped, ["x"], ["lab"], mc_samples=1000).value
    assert good < 0.1 < 1.0 < bad


def test_kl_estimate_does_not_depend_on_row_order():
    rng = np.random.default_rng(6)
    raw = pd.DataFrame({"v": rng.normal(size=3000), "g": rng.choice(["a", "b", "c"], 3000)})
    anon = pd.DataFrame({"v": rng.normal(0.2, 1.1, 3000), "g": rng.choice(["a", "b", "c"], 3000)})
    first = kl_continuous(raw, anon, ["v"], ["g"], mc_samples=300, max_centres=1000, seed=4)
    shuffled = kl_continuous(raw.sample(frac=1.0, random_state=1), anon.sample(frac=1.0, random_state=2), ["v"],
                             ["g"], mc_samples=300, max_centres=1000, seed=4)
    assert first.value == shuffled.value


def test_order_free_subsample_picks_the_same_rows_in_any_order():
    from anon_pipeline.utility.sampling import order_free_subsample

    data = np.random.default_rng(0).normal(size=(5000, 2))
    perm = np.random.default_rng(1).permutation(5000)
    a = data[order_free_subsample(data, None, 700, seed=3)]
    b = data[perm][order_free_subsample(data[perm], None, 700, seed=3)]
    assert len(a) == 700 and {tuple(r) for r in a} == {tuple(r) for r in b}
    c = data[order_free_subsample(data, None, 700, seed=4)]
    assert {tuple(r) for r in a} != {tuple(r) for r in c}
    # Roughly uniform: the subsample's mean is near the data's.
    assert np.abs(a.mean(axis=0)).max() < 0.15
