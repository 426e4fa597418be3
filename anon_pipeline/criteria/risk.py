"""Re-identification risk thresholds over the k quasi-identifiers (prosecutor and marketer models, El Emam 2013):
whole-table figures, checked on the release; the lattice search does not decide them class by class."""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field

from anon_pipeline.criteria.base import Evaluation, PrivacyModel, TargetResult, TargetSpec
from anon_pipeline.metrics.risk import marketer_risk, prosecutor_risk


class RiskTargets(TargetSpec):
    """Upper bounds on re-identification risk over the k quasi-identifiers."""

    prosecutor_max: float | None = Field(None, gt=0, le=1)
    prosecutor_avg: float | None = Field(None, gt=0, le=1)
    marketer: float | None = Field(None, gt=0, le=1)
    sample_unique_share: float | None = Field(None, ge=0, le=1)
    #: Largest share of records whose prosecutor risk exceeds ``threshold``.
    records_at_risk_share: float | None = Field(None, ge=0, le=1)
    threshold: float = Field(0.2, gt=0, le=1)
    population_size: int | None = Field(None, ge=1)


#: spec field -> (check name, what it bounds)
_FIGURES = {
    "prosecutor_max": ("prosecutor_risk_max", "highest re-identification risk of one row (1 / its group size) over "
                                              "{qis}"),
    "prosecutor_avg": ("prosecutor_risk_avg", "average re-identification risk of a row over {qis}"),
    "marketer": ("marketer_risk", "share of rows an attacker matching every row would re-identify over {qis}"),
    "sample_unique_share": ("sample_unique_share", "share of rows unique on {qis}"),
    "records_at_risk_share": ("records_at_risk_share", "share of rows whose re-identification risk over {qis} "
                                                       "exceeds the threshold"),
}


class RiskThreshold(PrivacyModel):
    """One bound of the ``risk:`` target; ``figure`` names which."""

    key = "risk"
    Spec = RiskTargets
    many = False
    at_least = False
    searchable = False
    spec: RiskTargets

    def __init__(self, spec: RiskTargets, attribute: str | None = None, figure: str = "prosecutor_max") -> None:
        super().__init__(spec, attribute)
        self.figure = figure

    @classmethod
    def bind(cls, section, sensitive, rename, narrowed=False) -> list[PrivacyModel]:
        return [cls(cast(RiskTargets, spec), figure=f) for spec in cls.specs(section) for f in _FIGURES
                if getattr(spec, f) is not None]

    @property
    def check(self) -> str:  # type: ignore[override]
        return _FIGURES[self.figure][0]

    @property
    def bound(self) -> float:
        return getattr(self.spec, self.figure)

    def measure(self, ev: Evaluation) -> TargetResult:
        tab = ev.table
        figures = prosecutor_risk(tab.sizes, self.spec.threshold)
        figures["marketer_risk"] = marketer_risk(tab.n_classes, tab.n_rows, self.spec.population_size)
        measured = figures[self.check]
        extra = {"threshold": self.spec.threshold} if self.figure == "records_at_risk_share" else {}
        return TargetResult(self.check_name, bool(measured <= self.bound), self.blocking, measured, self.bound,
                            {"comparison": "<=", **extra, **ev.base})

    def describe(self, qis: str, **context: Any) -> str:
        return _FIGURES[self.figure][1].format(qis=qis) + " is within its target"
