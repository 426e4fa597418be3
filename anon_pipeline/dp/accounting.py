"""Calibration and composition formulas, written out so tests can check them against their definitions.

- Laplace: adding Laplace(b) to a query of L1 sensitivity s is (s / b)-DP, so b = s / epsilon.
- Gaussian under zero-concentrated DP (Bun & Steinke 2016): adding N(0, sigma^2) to a query of L2 sensitivity s
  is rho-zCDP with rho = s^2 / (2 sigma^2), so sigma = s / sqrt(2 rho).
- The exponential mechanism (Gumbel noisy max of scale b over scores of sensitivity s) is (2 s / b)-DP and, being
  bounded-range, rho = epsilon^2 / 8 = s^2 / (2 b^2) zCDP (Cesar & Rogers 2021).
- rho-zCDP implies (epsilon, delta)-DP for every delta > 0 with epsilon = rho + 2 sqrt(rho ln(1/delta)) (Bun &
  Steinke, Prop. 1.3); ``cdp_rho`` inverts it: rho = (sqrt(ln(1/delta) + epsilon) - sqrt(ln(1/delta)))^2.
- Composition: epsilons and deltas add (basic composition); rhos add (zCDP composition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def laplace_scale(epsilon: float, l1_sensitivity: float = 1.0) -> float:
    return l1_sensitivity / epsilon


def gaussian_sigma(rho: float, l2_sensitivity: float = 1.0) -> float:
    return l2_sensitivity / math.sqrt(2.0 * rho)


def gumbel_scale(rho: float, sensitivity: float = 1.0) -> float:
    """Scale of the Gumbel noise for an exponential-mechanism selection that spends ``rho`` (zCDP)."""
    return sensitivity / math.sqrt(2.0 * rho)


def cdp_eps(rho: float, delta: float) -> float:
    """The epsilon that rho-zCDP gives at this delta (the standard conversion)."""
    if rho == 0:
        return 0.0
    if delta <= 0:
        return math.inf
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def cdp_rho(epsilon: float, delta: float) -> float:
    """The largest rho whose conversion at ``delta`` is at most ``epsilon`` (inverse of ``cdp_eps``)."""
    if not (epsilon > 0 and 0 < delta < 1):
        raise ValueError("zCDP needs epsilon > 0 and 0 < delta < 1")
    log_term = math.log(1.0 / delta)
    return (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2


@dataclass(frozen=True)
class Spend:
    """What one release spends. ``rho`` is set for mechanisms analysed under zCDP (their epsilon, delta are its
    conversion); None for mechanisms that are only (epsilon, delta)-DP."""

    epsilon: float
    delta: float = 0.0
    rho: float | None = None
    mechanism: str = ""


def total(spends: list[Spend], delta_budget: float) -> tuple[float, float]:
    """(epsilon, delta) of all spends together: the tighter of basic composition and zCDP composition.

    zCDP: the rhos add and are converted once at the delta the budget leaves after the (epsilon, delta)-only
    spends; the rest add on top (basic composition). Both are valid bounds, so the smaller epsilon is reported
    among those whose delta fits the budget (basic composition is used when neither fits, so it is refused).
    """
    basic = (sum(s.epsilon for s in spends), sum(s.delta for s in spends))
    zcdp = [s for s in spends if s.rho is not None]
    if not zcdp or delta_budget <= 0:
        return basic
    rest = [s for s in spends if s.rho is None]
    rest_delta = sum(s.delta for s in rest)
    conversion_delta = delta_budget - rest_delta
    if conversion_delta <= 0:
        return basic
    rho = sum(s.rho for s in zcdp if s.rho is not None)
    combined = (cdp_eps(rho, conversion_delta) + sum(s.epsilon for s in rest), delta_budget)
    if basic[1] <= delta_budget and basic[0] <= combined[0]:
        return basic
    return combined
