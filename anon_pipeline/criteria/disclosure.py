"""delta-disclosure privacy (Brickell and Shmatikov 2008) and basic beta-likeness (Cao and Karras 2012): bounds on
how far a class's share of each sensitive value may stray from the whole table's."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from anon_pipeline.criteria.base import ClassCells, PerAttributeSpec, PrivacyModel
from anon_pipeline.metrics import diversity as dv


class DeltaTarget(PerAttributeSpec):
    delta: float = Field(gt=0)


class BetaTarget(PerAttributeSpec):
    beta: float = Field(gt=0)


class DeltaDisclosure(PrivacyModel):
    key = "delta"
    Spec = DeltaTarget
    check = "delta_disclosure"
    at_least = False
    bound_field = "delta"
    text = "delta-disclosure privacy of {attr} over groups of rows sharing {qis}"

    def monotonic(self, suppression: bool) -> bool:
        # Merging a class holding a value with one lacking it lowers the value's share: |ln(q / p)| can grow.
        return False

    def per_class(self, cells: ClassCells) -> np.ndarray:
        assert cells.contingency is not None
        return dv.delta_per_class(cells.contingency)


class BetaLikeness(PrivacyModel):
    key = "beta"
    Spec = BetaTarget
    check = "basic_beta_likeness"
    at_least = False
    bound_field = "beta"
    text = "basic beta-likeness of {attr} over groups of rows sharing {qis}"

    def per_class(self, cells: ClassCells) -> np.ndarray:
        assert cells.contingency is not None
        return dv.beta_per_class(cells.contingency)

    def monotonic(self, suppression: bool) -> bool:
        # A merged class's share of a value is a weighted mean of its parts' (0 where absent): never above the
        # largest, so its (q - p) / p is not either.
        return not suppression
