"""Example plugin: p-sensitive k-anonymity (Truta and Vinay 2006). Every class holds at least ``k`` rows and at
least ``p`` distinct values of the sensitive attribute; both only grow when classes merge, so the model is
monotone, with suppression too, and the lattice search prunes with it."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from anon_pipeline.criteria import (ClassCells, Evaluation, PerAttributeSpec, PrivacyModel, TargetResult,
                                    register_privacy_model)
from anon_pipeline.metrics.diversity import distinct_per_class


class PSensitiveSpec(PerAttributeSpec):
    k: int = Field(1, ge=1)
    p: int = Field(ge=1)


@register_privacy_model("p_sensitive_k_anonymity")
class PSensitiveKAnonymity(PrivacyModel):
    key = "p_sensitive"
    Spec = PSensitiveSpec
    check = "p_sensitive_k_anonymity"
    bound_field = "p"
    text = ("p-sensitive k-anonymity of {attr}: every group of rows sharing {qis} holds at least k rows and at "
            "least p distinct values")
    spec: PSensitiveSpec

    def monotonic(self, suppression: bool) -> bool:
        return True  # a merged class is too small, or too uniform, only if every part is

    def per_class(self, cells: ClassCells) -> np.ndarray:
        """The distinct sensitive values of each class (what p bounds)."""
        assert cells.contingency is not None
        return distinct_per_class(cells.contingency)

    def failing(self, cells: ClassCells) -> np.ndarray:
        return (cells.sizes < self.spec.k) | (self.per_class(cells) < self.spec.p)

    def measure(self, ev: Evaluation) -> TargetResult:
        sizes = ev.table.sizes
        cells = ClassCells(sizes, ev.table.contingency(self.attribute)) if ev.table.n_rows else None
        failing = self.failing(cells) if cells is not None else np.ones(1, dtype=bool)
        meta: dict[str, Any] = {"comparison": ">=", "attribute": self.attribute, "k": self.spec.k,
                                "K": int(sizes.min()) if len(sizes) else 0,
                                "classes_failing": int(failing.sum()), **ev.base}
        measured = int(self.per_class(cells).min()) if cells is not None else None
        return TargetResult(self.check_name, not failing.any(), self.blocking, measured, self.spec.p, meta)
