"""l-diversity (Machanavajjhala et al. 2007) of a sensitive attribute: distinct, entropy and recursive (c, l)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from anon_pipeline.criteria.base import ClassCells, Evaluation, PerAttributeSpec, PrivacyModel, TargetResult
from anon_pipeline.metrics import diversity as dv

_CHECKS = {"distinct": "l_diversity", "entropy": "entropy_l_diversity", "recursive": "recursive_c_l_diversity"}
_TEXTS = {
    "distinct": "distinct l-diversity of {attr}: every group of rows sharing {qis} holds at least l values",
    "entropy": "entropy l-diversity of {attr}: in every group of rows sharing {qis}, exp(entropy of {attr}) is at "
               "least l",
    "recursive": "recursive (c, l)-diversity of {attr}: in every group of rows sharing {qis}, the most frequent "
                 "value is rarer than c times the l-th and later ones together",
}


class LTarget(PerAttributeSpec):
    variant: Literal["distinct", "entropy", "recursive"] = "distinct"
    l: float = Field(ge=1)
    #: Recursive (c, l)-diversity only: r1 < c * (r_l + ... + r_m) in every class.
    c: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _c_for_recursive(self) -> "LTarget":
        if self.variant == "recursive" and self.c is None:
            raise ValueError("recursive l-diversity needs c")
        if self.variant != "recursive" and self.c is not None:
            raise ValueError(f"c applies to recursive l-diversity only, not to '{self.variant}'")
        if self.variant != "entropy" and self.l != int(self.l):
            raise ValueError(f"{self.variant} l-diversity needs a whole l")
        return self

    @property
    def check(self) -> str:
        return _CHECKS[self.variant]


class LDiversity(PrivacyModel):
    key = "l"
    Spec = LTarget
    bound_field = "l"
    spec: LTarget

    @property
    def check(self) -> str:  # type: ignore[override]
        return self.spec.check

    @property
    def text(self) -> str:  # type: ignore[override]
        return _TEXTS[self.spec.variant]

    @property
    def at_least(self) -> bool:  # type: ignore[override]
        return self.spec.variant != "recursive"

    @property
    def bound(self) -> float:
        return self.spec.c if self.spec.variant == "recursive" else self.spec.l  # type: ignore[return-value]

    def monotonic(self, suppression: bool) -> bool:
        # A merged class lacks l values only if every part does; entropy and (c, l) can be dragged below the
        # bound by a failing part, so only without suppression.
        return self.spec.variant == "distinct" or not suppression

    def necessary_failing(self, cells: ClassCells) -> np.ndarray | None:
        # entropy l and (c, l) both need at least l distinct values in a class
        assert cells.contingency is not None
        return dv.distinct_per_class(cells.contingency) < np.ceil(self.spec.l)

    def per_class(self, cells: ClassCells) -> np.ndarray:
        ct = cells.contingency
        assert ct is not None
        if self.spec.variant == "distinct":
            return dv.distinct_per_class(ct)
        if self.spec.variant == "entropy":
            return np.e ** dv.entropy_per_class(ct)
        r1, tail = dv.recursive_c(ct, int(self.spec.l))
        with np.errstate(divide="ignore"):
            return np.where(tail == 0, np.inf, r1 / np.where(tail == 0, 1, tail))

    def passes(self, figures: np.ndarray) -> np.ndarray:
        if self.spec.variant == "entropy":
            # The last-bit slack of exp(ln l) for a class spread evenly over l values.
            return figures * (1 + 1e-12) >= self.spec.l
        if self.spec.variant == "recursive":
            return figures < self.bound  # strict, as published
        return figures >= self.spec.l

    def metadata(self, cells: ClassCells) -> dict[str, Any]:
        return {"variant": self.spec.variant, "attribute": self.attribute}

    def measure(self, ev: Evaluation) -> TargetResult:
        result = super().measure(ev)
        if self.spec.variant == "distinct":
            return TargetResult(result.name, result.passed, result.blocking, result.measured, int(self.spec.l),
                                result.metadata)
        if self.spec.variant == "entropy":
            return result
        worst = result.measured
        meta = {"comparison": "<", "measured_is": "max over classes of r1 / (r_l + ... + r_m)",
                "variant": "recursive", "l": int(self.spec.l), "c": self.spec.c, "attribute": self.attribute,
                **ev.base}
        finite = worst is not None and math.isfinite(worst)
        if not finite:
            meta["why"] = f"a class has fewer than {int(self.spec.l)} distinct values"
        return TargetResult(result.name, result.passed, result.blocking, worst if finite else None, self.spec.c,
                            meta)
