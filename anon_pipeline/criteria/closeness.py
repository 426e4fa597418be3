"""t-closeness (Li et al. 2007): every class's distribution of a sensitive attribute is within earth mover's
distance t of the whole table's, with the equal ground distance (categories), the ordered one (numbers, ordinal
values) or the hierarchical one (values one level of a hierarchy apart are closer than values apart at its top)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from anon_pipeline.criteria.base import TOLERANCE, ClassCells, PerAttributeSpec, PrivacyModel
from anon_pipeline.hierarchies.builders import HierarchySpec, build_hierarchy
from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.metrics import diversity as dv


class TTarget(PerAttributeSpec):
    t: float = Field(ge=0, le=1)
    #: Ground distance: "ordered" for numeric/ordinal values, "equal" for categories, "hierarchical" over
    #: ``hierarchy``; "auto" picks ordered or equal by dtype.
    distance: Literal["auto", "equal", "ordered", "hierarchical"] = "auto"
    #: Value order of an ordinal attribute, lowest first (implies the ordered distance).
    order: list[Any] | None = None
    #: The hierarchy of the hierarchical distance, as ``generalise`` takes one (ARX CSV path or builder spec).
    hierarchy: HierarchySpec | None = None

    @model_validator(mode="after")
    def _hierarchy_for_hierarchical(self) -> "TTarget":
        if (self.distance == "hierarchical") != (self.hierarchy is not None):
            raise ValueError("distance: hierarchical and hierarchy: go together")
        if self.distance == "hierarchical" and self.order is not None:
            raise ValueError("order applies to the ordered distance, not to the hierarchical one")
        return self


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

    def __init__(self, spec: TTarget, attribute: str | None = None) -> None:
        super().__init__(spec, attribute)
        self._levels: tuple[pd.Index, list[np.ndarray], int] | None = None

    def order(self) -> list[Any] | None:
        return self.spec.order

    def distance(self) -> str | None:
        return self.spec.distance if self.spec.distance in ("equal", "ordered") else None

    def monotonic(self, suppression: bool) -> bool:
        # The earth mover's distance is convex: a merged class is no farther than its farthest part.
        return not suppression

    def _ancestors(self, cells: ClassCells) -> tuple[list[np.ndarray], int]:
        """Per level below the root, every value code's node; and the root's level. Built once per set of values
        (a search asks for every node with the same values)."""
        if self._levels is None or self._levels[0] is not cells.values:
            values = pd.Series(cells.values, name=self.attribute)
            encoded = EncodedHierarchy.build(str(self.attribute), build_hierarchy(self.spec.hierarchy, values,
                                                                                  cells.base_dir))
            codes = encoded.encode(values)
            cards = [encoded.cardinality(j) for j in range(encoded.height + 1)]
            # The root is the first level of one node; a hierarchy without one gets an implicit root above its top.
            height = next((j for j, n in enumerate(cards) if n == 1), len(cards))
            self._levels = (cells.values, [encoded.level_codes[j][codes] for j in range(height)], height)
        return self._levels[1], self._levels[2]

    def per_class(self, cells: ClassCells) -> np.ndarray:
        assert cells.contingency is not None
        if self.spec.distance == "hierarchical":
            ancestors, height = self._ancestors(cells)
            if height == 0:
                return np.zeros(len(cells.sizes))
            return dv.t_hierarchical_per_class(cells.contingency, ancestors, height)
        return dv.t_closeness_per_class(cells.contingency, cells.ordered)

    def metadata(self, cells: ClassCells) -> dict[str, Any]:
        distance = "hierarchical" if self.spec.distance == "hierarchical" else \
            "ordered" if cells.ordered else "equal"
        return {"attribute": self.attribute, "distance": distance}
