"""The noise mechanisms, drawn by OpenDP: exact samplers (discrete Gaussian and discrete Laplace on counts, Gumbel
noisy max) fed from the operating system's CSPRNG, immune to the floating-point attacks on textbook samplers.

They cannot be seeded, on purpose: noise derived from the policy's seed (which sits in a YAML file) could be
recomputed and subtracted. Each function checks that OpenDP's own privacy map of the mechanism it built equals
the spend our formulas (``accounting``) promise, so the ledger never records less than was spent.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from anon_pipeline.dp.accounting import gaussian_sigma, gumbel_scale, laplace_scale

if TYPE_CHECKING:
    import opendp.prelude as dp


def _opendp() -> ModuleType:
    """OpenDP, imported on first use: it imports scikit-learn (about a second), which a run without noise never
    needs."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def _check(measurement: dp.Measurement, d_in: float, promised: float, what: str) -> None:
    actual = measurement.map(d_in)
    if not math.isclose(actual, promised, rel_tol=1e-9):
        raise RuntimeError(f"{what}: OpenDP's privacy map gives {actual}, the calibration promised {promised}")


def _as_counts(counts: np.ndarray) -> list[int]:
    return np.asarray(counts, dtype=np.int64).ravel().tolist()


def gaussian_counts(counts: np.ndarray, rho: float, l2_sensitivity: int = 1) -> tuple[np.ndarray, float]:
    """Counts plus discrete Gaussian noise, ``rho``-zCDP for a query of this L2 sensitivity; returns the noisy
    counts (same shape) and sigma."""
    sigma = gaussian_sigma(rho, l2_sensitivity)
    dp = _opendp()
    meas = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int), scale=sigma)
    _check(meas, l2_sensitivity, rho, "gaussian")
    return np.asarray(meas(_as_counts(counts)), dtype=float).reshape(np.shape(counts)), sigma


def laplace_counts(counts: np.ndarray, epsilon: float, l1_sensitivity: int = 1) -> tuple[np.ndarray, float]:
    """Counts plus discrete Laplace noise, ``epsilon``-DP for a query of this L1 sensitivity; returns the noisy
    counts and the scale."""
    scale = laplace_scale(epsilon, l1_sensitivity)
    dp = _opendp()
    meas = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale)
    _check(meas, l1_sensitivity, epsilon, "laplace")
    return np.asarray(meas(_as_counts(counts)), dtype=float).reshape(np.shape(counts)), scale


def noisy_max(scores: np.ndarray, rho: float, sensitivity: float = 1.0) -> int:
    """The exponential mechanism (Gumbel noisy max): the index of a high score, ``rho``-zCDP when one row changes
    each score by at most ``sensitivity``."""
    dp = _opendp()
    meas = dp.m.make_noisy_max(dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.linf_distance(T=float),
                               dp.zero_concentrated_divergence(), scale=gumbel_scale(rho, sensitivity))
    _check(meas, float(sensitivity), rho, "noisy max")
    return int(meas([float(s) for s in scores]))


def laplace_sums(groups: list[np.ndarray], bounds: tuple[float, float], epsilon: float) -> tuple[np.ndarray, float]:
    """The sum of each group's values clipped to ``bounds``, plus Laplace noise: ``epsilon``-DP under adding or
    removing one row, as the groups are disjoint (one row changes one sum). OpenDP clips, sums and adds the noise,
    and its map gives the sensitivity: max(|low|, |high|) for integer values with integer bounds (exact sum,
    discrete Laplace), a hair more for floats (OpenDP's allowance for floating-point rounding in the sum).
    Returns the noisy sums and the scale."""
    integer = all(np.issubdtype(g.dtype, np.integer) for g in groups) and all(float(b).is_integer() for b in bounds)
    dp = _opendp()
    # 64-bit integers: OpenDP's default for Python ints is i32, whose saturating sum stops at 2^31 - 1.
    atom = dp.atom_domain(T="i64") if integer else dp.atom_domain(T=float, nan=False)
    cast = int if integer else float
    summed = ((dp.vector_domain(atom), dp.symmetric_distance()) >> dp.t.then_clamp((cast(bounds[0]), cast(bounds[1])))
              >> dp.t.then_sum())
    scale = laplace_scale(epsilon, summed.map(1))
    meas = summed >> dp.m.then_laplace(scale=scale)
    _check(meas, 1, epsilon, "laplace sum")
    return np.array([meas(np.asarray(g).tolist()) for g in groups], dtype=float), scale
