"""k-anonymity (Sweeney 2002): every class holds at least k rows; and K over every released quasi-identifier when
the k target names fewer of them."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from anon_pipeline.criteria.base import ClassCells, Evaluation, PrivacyModel, TargetResult, TargetSpec
from anon_pipeline.metrics.k_anonymity import k_from_sizes
from anon_pipeline.metrics.measure import prepare
from anon_pipeline.metrics.risk import prosecutor_risk

ALL_QIS_CHECK = "all_quasi_identifiers"


class KSpec(TargetSpec):
    k: int = Field(ge=1)
    blocking: bool = True


class AllQuasiIdentifiersTarget(TargetSpec):
    """When ``quasi_identifiers`` narrows the k target, K over every released quasi-identifier is checked against
    the same k too: a warning by default, blocking on request."""


def _risk_figures(sizes) -> dict[str, float | int]:
    """Sample uniques and prosecutor risk from class sizes: shown beside every K, whatever the targets."""
    figures = prosecutor_risk(sizes, 1.0)
    return {k: figures[k] for k in ("sample_uniques", "sample_unique_share", "prosecutor_risk_max",
                                    "prosecutor_risk_avg")}


class KAnonymity(PrivacyModel):
    key = "k"
    Spec = KSpec
    many = False
    check = "k_anonymity"
    bound_field = "k"
    spec: KSpec

    @classmethod
    def section_fields(cls) -> dict[str, tuple[Any, Any]]:
        return {"k": (int | None, Field(None, ge=1)),
                #: Input column names the k target applies to (default: every quasi-identifier).
                "quasi_identifiers": (list[str] | None, None),
                "k_blocking": (bool, True),
                "all_quasi_identifiers": (AllQuasiIdentifiersTarget, Field(default_factory=AllQuasiIdentifiersTarget))}

    @classmethod
    def specs(cls, section: Any) -> list[KSpec]:
        return [] if section.k is None else [KSpec(k=section.k, blocking=section.k_blocking)]

    @classmethod
    def bind(cls, section, sensitive, rename, narrowed=False) -> list[PrivacyModel]:
        checks: list[PrivacyModel] = [cls(spec) for spec in cls.specs(section)]
        if checks and narrowed:
            checks.append(AllQuasiIdentifiers(KSpec(k=section.k, blocking=section.all_quasi_identifiers.blocking)))
        return checks

    def monotonic(self, suppression: bool) -> bool:
        return True  # a merged class is smaller than k only if every part is

    def per_class(self, cells: ClassCells) -> np.ndarray:
        return cells.sizes

    def _result(self, tab, **meta: Any) -> TargetResult:
        """K of a prepared table against k, with k %, the rows below k and the risk figures beside it."""
        k = self.spec.k
        kan = k_from_sizes(tab.sizes, tab.quasi_identifiers, tab.n_rows)
        return TargetResult(self.check_name, kan.K >= k, self.blocking, kan.K, k,
                            {"comparison": ">=", "k_percent": kan.k_percent, "rows_below_k": kan.rows_below(k),
                             "n_suppressed": tab.n_suppressed, **meta, **_risk_figures(tab.sizes)})

    def measure(self, ev: Evaluation) -> TargetResult:
        return self._result(ev.table, classes_below_k=int((ev.table.sizes < self.spec.k).sum()), **ev.base)

    def describe(self, qis: str, k_set: bool = True, **context: Any) -> str:
        k = self.spec.k
        if not k_set:
            return f"K over {qis} (no k target set: checked against 1)"
        return (f"K >= k = {k} over {qis}: every combination of their values is shared by at least {k} rows "
                "(K is the size of the smallest group)")


class AllQuasiIdentifiers(KAnonymity):
    """K over every released quasi-identifier against the k target (bound by ``KAnonymity`` when narrowed)."""

    check = ALL_QIS_CHECK
    searchable = False

    def measure(self, ev: Evaluation) -> TargetResult:
        section = ev.section
        wide = prepare(ev.frame, ev.all_quasi_identifiers, suppressed=section.suppressed,
                       suppression_marker=section.suppression_marker)
        return self._result(wide, quasi_identifiers=wide.quasi_identifiers, n_rows=wide.n_rows,
                            n_suppressed=wide.n_suppressed, n_classes=wide.n_classes)

    def describe(self, qis: str, k_set: bool = True, every: str = "", **context: Any) -> str:
        return f"K over every released quasi-identifier ({every}) against k = {self.spec.k}"
