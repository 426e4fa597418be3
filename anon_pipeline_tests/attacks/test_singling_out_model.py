"""Singling-out's pieces: univariate and random predicates, and the control-size correction against theory."""

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from anon_pipeline.attacks.predicates import EQ, GE, ISNA, LE, Predicates, counts
from anon_pipeline.attacks.singling_out import (_probability_integral, baseline_predicates,
                                                control_size_correction, univariate_predicates)
from anon_pipeline.attacks.tables import encode


def test_probability_integral_matches_numeric_integration():
    for n, w in ((10, 0.3), (1000, 0.002), (5000, 1e-4)):
        expected, _ = quad(lambda x: n * x * (1 - x) ** (n - 1), 0, w)
        assert _probability_integral(n, w) == pytest.approx(expected, rel=1e-6)


def test_control_size_correction_recovers_the_size_ratio():
    # Queries "x == v" with v uniform over V values all weigh w = 1/V; one singles out among n rows with
    # probability n w (1 - w)^(n - 1), so successes on 2000 control rows scale to 4000 training rows by:
    V = 20000
    expected = (4000 * (1 - 1 / V) ** 3999) / (2000 * (1 - 1 / V) ** 1999)
    rng = np.random.default_rng(0)
    ctl = pd.DataFrame({"x": rng.integers(0, V, 2000).astype(float)})
    cols = encode([ctl.iloc[:0], ctl.iloc[:0], ctl], ["x"])
    q = 3000
    pred = Predicates(np.zeros((q, 1), np.int64), np.full((q, 1), EQ, np.int8),
                      rng.integers(0, V, (q, 1)).astype(float))
    assert control_size_correction(pred, cols, 4000, rng) == pytest.approx(expected, rel=0.05)


def test_univariate_predicates_are_the_rare_values_min_max_and_the_only_missing_value():
    syn = pd.DataFrame({"n": [1.0, 2.0, 2.0, 5.0, np.nan], "c": ["a", "a", "b", "b", "z"]})
    cols = encode([syn, syn], ["n", "c"])
    pred = univariate_predicates(cols, 100, np.random.default_rng(0))
    got = {(int(c), int(o), float(v)) for c, o, v in zip(pred.cols[:, 0], pred.ops[:, 0], pred.vals[:, 0])}
    z_code = float(cols[1].values[0][4])
    assert got == {(0, ISNA, 0.0), (0, LE, 1.0), (0, GE, 5.0), (0, EQ, 1.0), (0, EQ, 5.0), (1, EQ, z_code)}
    assert (counts(pred, cols, 0) == 1).all()
    assert len(univariate_predicates(cols, 2, np.random.default_rng(0))) == 2


def test_baseline_predicates_use_released_values_and_type_fitting_operators():
    syn = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": ["a", "b", None]})
    cols = encode([syn, syn], ["n", "c"])
    pred = baseline_predicates(cols, 400, 2, np.random.default_rng(1))
    assert (pred.cols == [[0, 1]]).all()
    assert set(pred.vals[:, 0]) <= {1.0, 2.0, 3.0} and len(set(pred.ops[:, 0])) == 6
    assert set(pred.ops[:, 1]) <= {EQ, 1, ISNA, ISNA + 1}  # ==, !=, isna, notna on a category


def test_corrected_small_control_predicts_a_control_of_the_training_size():
    """The point of the correction: successes on a 2,000-row control, rescaled, estimate those on an
    independent control as large as the 8,000 training rows, within the fit's noise (anonymeter's starting
    point collapses to a factor of 2001 / 8001 here and would estimate about a fifth of them)."""
    from anon_pipeline.attacks import singling_out
    from anon_pipeline.sample.flights import flights

    cols = ["age", "departure_airport", "airline", "departure_attr", "arrival_attr"]
    df = flights(18000, 5)[cols]
    train, small, same_size = df.iloc[:8000], df.iloc[8000:10000], df.iloc[10000:18000]
    release = train.sample(8000, replace=True, random_state=1)
    corrected, truth = 0.0, 0.0
    for seed in range(3):
        a = singling_out(train, release, small, cols, "multivariate", 300, np.random.default_rng(seed))
        b = singling_out(train, release, same_size, cols, "multivariate", 300, np.random.default_rng(seed))
        assert b.details.get("control_correction") == 1.0       # same size: nothing to correct
        corrected += a.n_control
        truth += b.n_control
    assert 0.67 < corrected / truth < 1.5
