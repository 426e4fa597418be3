"""Success rates and risks of a privacy attack with their confidence intervals, as anonymeter computes them.

A rate is the Wilson score estimate of a Bernoulli success rate, with its symmetric error bound; the risk is
the residual success (attack - control) / (1 - control), its error propagated to first order from the errors
of both rates, and point and interval clipped to [0, 1] (anonymeter's ``stats/confidence.py``:
``success_rate``, ``residual_success``, ``bind_value``, ``EvaluationResults.risk``). Without a control, the
risk is the attack rate itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import sqrt



@dataclass(frozen=True)
class Rate:
    value: float
    error: float

    def as_dict(self) -> dict:
        return {"value": self.value, "error": self.error}


@dataclass(frozen=True)
class Risk:
    value: float
    ci: tuple[float, float]

    def as_dict(self) -> dict:
        return {"value": self.value, "ci": list(self.ci)}


def probit(confidence_level: float) -> float:
    from scipy.stats import norm  # scipy.stats costs seconds to import; only attack reports need it

    return float(norm.ppf(0.5 * (1.0 + confidence_level)))


def success_rate(n_total: int, n_success: float, confidence_level: float = 0.95) -> Rate:
    """Wilson score estimate of a success rate and its error bound (``n_success`` may be non-integer)."""
    if not 0 <= confidence_level <= 1:
        raise ValueError(f"confidence_level must be between 0 and 1, got {confidence_level}")
    if n_total <= 0:
        raise ValueError(f"an attack needs at least one attempt, got n_total={n_total}")
    z = probit(confidence_level)
    z2 = z * z
    denominator = n_total + z2
    rate = (n_success + 0.5 * z2) / denominator
    error = (z / denominator) * sqrt(n_success * (n_total - n_success) / n_total + 0.25 * z2)
    return Rate(rate, error)


def residual_success(attack: Rate, control: Rate) -> Rate:
    """(attack - control) / (1 - control), unclipped, with the first-order propagated error."""
    residual = (attack.value - control.value) / (1.0 - control.value)
    d_attack = 1.0 / abs(1.0 - control.value)
    d_control = (attack.value - 1.0) / (1.0 - control.value) ** 2
    return Rate(residual, sqrt((attack.error * d_attack) ** 2 + (control.error * d_control) ** 2))


def bind(rate: Rate) -> Risk:
    """Clip the point and the symmetric interval to [0, 1]."""
    def clip(x: float) -> float:
        return min(max(x, 0.0), 1.0)
    return Risk(clip(rate.value), (clip(rate.value - rate.error), clip(rate.value + rate.error)))


@dataclass(frozen=True)
class AttackResult:
    """Counts of one attack: ``n_attacks`` attempts against the training records, the naive baseline and the
    control records (``n_control`` is None without a control; it may be non-integer after singling-out's
    correction for the control's size)."""

    name: str
    n_attacks: int
    n_success: int
    n_baseline: int
    n_control: float | None
    confidence_level: float = 0.95
    details: dict = field(default_factory=dict)  # settings and counts of the attack (JSON-serialisable)

    @property
    def attack_rate(self) -> Rate:
        return success_rate(self.n_attacks, self.n_success, self.confidence_level)

    @property
    def baseline_rate(self) -> Rate:
        return success_rate(self.n_attacks, self.n_baseline, self.confidence_level)

    @property
    def control_rate(self) -> Rate | None:
        if self.n_control is None:
            return None
        return success_rate(self.n_attacks, self.n_control, self.confidence_level)

    def risk(self, baseline: bool = False) -> Risk:
        if baseline:
            return bind(self.baseline_rate)
        control = self.control_rate
        if control is None:
            return bind(self.attack_rate)
        if control.value >= 1.0:  # the control is always attacked successfully: no residual risk is measurable
            return Risk(float("nan"), (float("nan"), float("nan")))
        return bind(residual_success(self.attack_rate, control))

    def warnings(self) -> list[str]:
        out = []
        if self.baseline_rate.value >= self.attack_rate.value:
            out.append(f"{self.name}: the attack is no better than the naive baseline; its risk cannot be trusted")
        control = self.control_rate
        if control is not None and control.value >= 1.0:
            out.append(f"{self.name}: every control attack succeeded; the residual risk cannot be measured")
        return out

    def as_dict(self) -> dict:
        risk = self.risk()
        control = self.control_rate
        return {"risk": risk.value, "ci": list(risk.ci), "confidence_level": self.confidence_level,
                "n_attacks": self.n_attacks, "n_success": self.n_success, "n_baseline": self.n_baseline,
                "n_control": self.n_control, "attack_rate": self.attack_rate.as_dict(),
                "baseline_rate": self.baseline_rate.as_dict(),
                "control_rate": control.as_dict() if control is not None else None,
                "baseline_risk": self.risk(baseline=True).as_dict(), **self.details}
