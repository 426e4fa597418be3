"""t-closeness (Li et al. 2007): every class's distribution of a sensitive attribute is within earth mover's
distance t of the whole table's, with the equal ground distance (categories) or the ordered one (numbers,
ordinal values)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from anon_pipeline.criteria.base import TOLERANCE, ClassCells, PerAttributeSpec, PrivacyModel
from anon_pipeline.metrics import diversity as dv


class TTarget(PerAttributeSpec):
    t: float = Field(ge=0, le=1)
    #: Ground distance: "ordered" for numeric/ordinal values, "equal" for categories; "auto" picks by dtype.
    distance: Literal["auto", "equal", "ordered"] = "auto"
    #: Value order of an ordinal attribute, lowest first (implies the ordered distance).
    order: list[Any] | None = None


class TCloseness(PrivacyModel):
    key = "t"
    Spec = TTarget
    check = "t_closeness"
    at_least = False
    bound_field = "t"
    tolerance = TOLERANCE
    text = ("t-closeness of {attr}: in every group of rows sharing {qis}, its distribution is within t of the "
            "whole table's (earth mover's distance)")
    spec: TTarget

    def order(self) -> list[Any] | None:
        return self.spec.order

    def distance(self) -> str | None:
        return None if self.spec.distance == "auto" else self.spec.distance

    def monotonic(self, suppression: bool) -> bool:
        # The earth mover's distance is convex: a merged class is no farther than its farthest part.
        return not suppression

    def per_class(self, cells: ClassCells) -> np.ndarray:
        assert cells.contingency is not None
        return dv.t_closeness_per_class(cells.contingency, cells.ordered)

    def metadata(self, cells: ClassCells) -> dict[str, Any]:
        return {"attribute": self.attribute, "distance": "ordered" if cells.ordered else "equal"}
