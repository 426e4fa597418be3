"""Each mechanism against its definition: the calibration formulas, OpenDP's own privacy map, the spread of the
noise, and empirical output distributions on neighbouring datasets (a count of 50 vs 51).

OpenDP draws from the OS CSPRNG and cannot be seeded (on purpose), so the empirical tests are not seeded; their
tolerances are set for a failure probability far below 1e-6 at the stated number of draws, and each has a negative
control (too little noise) showing that the test fails when the guarantee does not hold.
"""

from __future__ import annotations

import math

import numpy as np
import opendp.prelude as dp
import pytest

from anon_pipeline.dp.accounting import cdp_eps, cdp_rho, gaussian_sigma, gumbel_scale, laplace_scale
from anon_pipeline.dp.mechanisms import gaussian_counts, laplace_counts, noisy_max

DRAWS = 100_000


def test_calibration_formulas():
    assert laplace_scale(0.5, 2.0) == 4.0
    assert gaussian_sigma(0.125, 1.0) == pytest.approx(2.0)          # rho = s^2 / (2 sigma^2)
    assert gumbel_scale(0.125, 1.0) == pytest.approx(2.0)            # rho = epsilon^2 / 8, epsilon = 2 s / b
    # The standard zCDP conversion and its inverse.
    rho = cdp_rho(1.0, 1e-9)
    assert rho == pytest.approx((math.sqrt(math.log(1e9) + 1) - math.sqrt(math.log(1e9))) ** 2)
    assert cdp_eps(rho, 1e-9) == pytest.approx(1.0)
    assert cdp_eps(0.5, 1e-6) == pytest.approx(0.5 + 2 * math.sqrt(0.5 * math.log(1e6)))
    # The Gaussian for (epsilon, delta) through zCDP: sigma = s / (sqrt 2 (sqrt(ln(1/delta) + epsilon) -
    # sqrt(ln(1/delta)))); for one query about the classic s sqrt(2 ln(1.25/delta)) / epsilon (Dwork & Roth A.1),
    # the gain is in composition.
    log_term = math.log(1e6)
    sigma = gaussian_sigma(cdp_rho(0.5, 1e-6), 2.0)
    assert sigma == pytest.approx(2.0 / (math.sqrt(2) * (math.sqrt(log_term + 0.5) - math.sqrt(log_term))))
    assert sigma == pytest.approx(2.0 * math.sqrt(2 * math.log(1.25e6)) / 0.5, rel=0.01)


def test_opendp_privacy_maps_agree_with_the_formulas():
    """An independent check: OpenDP's proof-backed privacy map of the mechanism built at our scale."""
    # Built here with OpenDP directly: enable what our mechanisms enable when first used (another test may not
    # have run first in this worker).
    dp.enable_features("contrib")
    sigma = gaussian_sigma(0.02, 3)
    meas = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int), scale=sigma)
    assert meas.map(3) == pytest.approx(0.02)
    lap = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=laplace_scale(0.7))
    assert lap.map(1) == pytest.approx(0.7)


def test_noise_spread_matches_the_scale():
    noisy, sigma = gaussian_counts(np.full(DRAWS // 2, 1000), rho=0.005)
    assert sigma == pytest.approx(10.0)
    assert noisy.mean() == pytest.approx(1000, abs=0.2) and noisy.std() == pytest.approx(sigma, rel=0.02)
    noisy, scale = laplace_counts(np.full(DRAWS // 2, 1000), epsilon=0.2)
    assert scale == 5.0
    # Discrete Laplace of scale b: variance 2 e^{-1/b} / (1 - e^{-1/b})^2 (about 2 b^2).
    q = math.exp(-1 / scale)
    assert noisy.std() == pytest.approx(math.sqrt(2 * q) / (1 - q), rel=0.02)


def _histograms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = int(min(a.min(), b.min())), int(max(a.max(), b.max()))
    edges = np.arange(lo, hi + 2)
    return np.histogram(a, edges)[0] / len(a), np.histogram(b, edges)[0] / len(b)


def _max_log_ratio(p: np.ndarray, q: np.ndarray, min_share: float = 0.02) -> float:
    """The largest |ln(p/q)| over the bins both histograms fill with at least ``min_share`` of the draws."""
    ok = (p >= min_share) & (q >= min_share)
    return float(np.abs(np.log(p[ok] / q[ok])).max())


def test_laplace_count_on_neighbouring_datasets_stays_within_e_epsilon():
    """Pure epsilon-DP: every output bin's probability ratio between count 50 and count 51 is at most e^epsilon.
    Tolerance: 0.2 on the log ratio, over bins with at least 2000 of 100 000 draws on both sides (the standard
    error of such a log ratio is at most sqrt(2/2000) = 0.032, so 0.2 is more than 6 standard errors)."""
    eps, tolerance = 1.0, 0.2
    p, q = _histograms(laplace_counts(np.full(DRAWS, 50), eps)[0], laplace_counts(np.full(DRAWS, 51), eps)[0])
    worst = _max_log_ratio(p, q)
    assert worst <= eps + tolerance
    assert worst >= eps - tolerance      # and the noise is not larger than it needs to be
    # Negative control: noise calibrated for epsilon = 3 breaks the epsilon = 1 bound.
    few = DRAWS // 5
    p, q = _histograms(laplace_counts(np.full(few, 50), 3.0)[0], laplace_counts(np.full(few, 51), 3.0)[0])
    assert _max_log_ratio(p, q, min_share=0.005) > eps + tolerance


def _hockey_stick(p: np.ndarray, q: np.ndarray, eps: float) -> float:
    """sup_S P(S) - e^eps Q(S) over unions of bins: (epsilon, delta)-DP holds iff it is <= delta."""
    return float(np.clip(p - math.exp(eps) * q, 0, None).sum())


def test_gaussian_count_on_neighbouring_datasets_meets_epsilon_delta():
    """(epsilon, delta)-DP, by definition: P[M(D) in S] <= e^epsilon P[M(D') in S] + delta for every set S of
    outputs; the worst S is the union of the bins where P > e^epsilon Q. Tolerance: 0.005 on that sum (its
    sampling error at 100 000 draws is below 0.002)."""
    eps, delta, tolerance = 1.0, 1e-3, 0.005
    rho = cdp_rho(eps, delta)
    a, b = gaussian_counts(np.full(DRAWS, 50), rho)[0], gaussian_counts(np.full(DRAWS, 51), rho)[0]
    p, q = _histograms(a, b)
    assert _hockey_stick(p, q, eps) <= delta + tolerance and _hockey_stick(q, p, eps) <= delta + tolerance
    # Negative control: a tenth of the noise's variance fails the same test.
    a, b = (gaussian_counts(np.full(DRAWS // 5, count), 10 * rho)[0] for count in (50, 51))
    assert _hockey_stick(*_histograms(a, b), eps) > delta + tolerance


def test_noisy_max_selects_with_exponential_mechanism_probabilities():
    """Gumbel noisy max of scale b selects index i with probability exp(s_i / b) / sum_j exp(s_j / b)."""
    rho, scores = 0.125, np.array([0.0, 1.0, 3.0])
    b = gumbel_scale(rho)
    expected = np.exp(scores / b) / np.exp(scores / b).sum()
    picks = np.bincount([noisy_max(scores, rho) for _ in range(5000)], minlength=3) / 5000
    np.testing.assert_allclose(picks, expected, atol=0.03)   # over 4 standard errors at 5000 draws
