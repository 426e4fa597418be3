"""K_eps against brute force (all pairs, |a - b| < eps on raw values) and a hand-computed table."""

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.metrics.k_eps import k_eps


def brute_force(df, continuous, discrete, level):
    n = len(df)
    near = np.ones((n, n), dtype=bool)
    for c in continuous:
        x = df[c].to_numpy(float)
        eps = (x.max() - x.min()) * level / 200
        near &= np.abs(x[:, None] - x[None, :]) < eps
    for c in discrete:
        x = df[c].to_numpy()
        near &= x[:, None] == x[None, :]
    return int(near.sum(axis=1).min())


@pytest.mark.parametrize("trial", range(24))
def test_k_eps_matches_brute_force(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(30, 400))
    level = float(rng.choice([10, 25, 60, 120]))
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n), "c": rng.exponential(size=n),
                       "d": rng.integers(0, 3, n), "e": rng.choice(["x", "y"], n)})
    continuous = ["a", "b", "c"][: 1 + trial % 3]
    discrete = [[], ["d"], ["d", "e"]][trial % 3 if trial % 2 else 0]
    result = k_eps(df, continuous, discrete, level=level)
    assert result.K_eps == brute_force(df, continuous, discrete, level)
    assert result.K <= result.K_eps


def test_k_eps_hand_computed():
    # range 0..100, T = 10 -> eps = 5. Neighbourhoods (|d| < 5): {0, 4}, {0, 4, 8}, {4, 8}, {50}, {100}
    df = pd.DataFrame({"x": [0.0, 4.0, 8.0, 50.0, 100.0]})
    result = k_eps(df, ["x"], level=10)
    assert result.eps == {"x": 5.0}
    assert result.K_eps == 1 and result.K == 1
    df = pd.DataFrame({"x": [0.0, 4.0, 8.0, 96.0, 100.0]})
    assert k_eps(df, ["x"], level=10).K_eps == 2
    # A difference of exactly eps is outside the neighbourhood (the inequality is strict).
    df = pd.DataFrame({"x": [0.0, 5.0, 95.0, 100.0]})
    assert k_eps(df, ["x"], level=10).K_eps == 1


def test_k_percent_uses_min_of_k_and_k_eps():
    df = pd.DataFrame({"x": [0.0, 0.0, 1.0, 1.0], "g": ["a", "a", "b", "b"]})
    result = k_eps(df, ["x"], ["g"], level=10)
    assert (result.K, result.K_eps) == (2, 2)
    assert result.k_percent == pytest.approx(50.0)
