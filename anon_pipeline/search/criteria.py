"""The privacy criteria of a lattice search, decided class by class by the registered privacy models.

``Criteria`` holds a ``privacy:`` section (the policy's form, plugin models included) or the short keywords
``k``, ``l``, ``t``; bound to a table (``bind``) it becomes ``SearchCriteria``, whose ``failing`` asks each
model's own per-class test (``criteria/``), the same code the release checks run. Definitions follow ARX: a class
is an outlier when it fails any criterion; a transformation satisfies the criteria when the outliers' rows fit
the suppression budget ``floor(suppression_limit * n_rows)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.criteria import ClassCells, PrivacyModel, PrivacyTargets, bind_checks, registered_privacy_models
from anon_pipeline.metrics import diversity as dv
from anon_pipeline.metrics.measure import prepare

L_VARIANTS = ("distinct", "entropy")
T_VARIANTS = ("equal", "ordered")


class Criteria:
    """The privacy targets of one search: ``privacy`` (a ``privacy:`` section) and/or the keywords ``k``, ``l``
    (``l_variant`` distinct or entropy) and ``t`` (``t_variant`` equal or ordered), which add to it."""

    def __init__(self, k: int | None = None, l: float | None = None, l_variant: str = "distinct",
                 t: float | None = None, t_variant: str = "equal",
                 privacy: Mapping[str, Any] | PrivacyTargets | None = None) -> None:
        if l_variant not in L_VARIANTS:
            raise ValueError(f"l_variant must be one of {L_VARIANTS}")
        if t_variant not in T_VARIANTS:
            raise ValueError(f"t_variant must be one of {T_VARIANTS}")
        section = privacy.model_dump() if isinstance(privacy, PrivacyTargets) else dict(privacy or {})
        if k is not None:
            if section.get("k") is not None:
                raise ValueError("k given twice: as a keyword and in privacy")
            section["k"] = k
        for key, extra in (("l", None if l is None else {"l": l, "variant": l_variant}),
                           ("t", None if t is None else {"t": t, "distance": t_variant})):
            if extra is not None:
                given = section.get(key) or []
                section[key] = [*([given] if isinstance(given, dict) else given), extra]
        self.section = PrivacyTargets.model_validate(section)
        if not any(model.specs(self.section) for model in registered_privacy_models().values()):
            raise ValueError("give at least one privacy criterion: k, l, t or a privacy: target")

    def checks(self, sensitive: str | None) -> list[tuple[str, PrivacyModel]]:
        """The bound checks; a target naming no attribute applies to ``sensitive``."""
        try:
            checks = bind_checks(self.section, [sensitive] if sensitive else [])
        except ValueError:
            raise ValueError("l-diversity, t-closeness and the other per-attribute targets need `sensitive`, a "
                             "column of the table (or the target's own attribute)") from None
        for name, check in checks:
            if not check.searchable:
                raise ValueError(f"privacy target '{name}' is a whole-table figure; the lattice search decides "
                                 "class by class and cannot search it (check it on the release instead)")
        attributes = sorted({c.attribute for _, c in checks if c.attribute is not None})
        if len(attributes) > 1:
            raise ValueError(f"the lattice search takes one sensitive attribute; the targets name {len(attributes)}")
        return checks

    def bind(self, df: pd.DataFrame, sensitive: str | None, base_dir: str | Path = ".") -> "SearchCriteria":
        """The criteria bound to ``df``: its sensitive column encoded as the release checks encode it;
        ``base_dir``: the folder a target's relative paths (a t-closeness hierarchy) start from."""
        checks = self.checks(sensitive)
        attribute = next((c.attribute for _, c in checks if c.attribute is not None), None)
        if attribute is None:
            return SearchCriteria(tuple(checks))
        if attribute not in df.columns:
            raise ValueError(f"sensitive attribute '{attribute}' is not a column of the table")
        orders = {attribute: c.order() for _, c in checks if c.order()}
        distances = {attribute: c.distance() for _, c in checks if c.distance()}
        tab = prepare(df, [], [attribute], ordinal=orders, t_distance=distances)
        column = tab.sa_cols[attribute]
        return SearchCriteria(tuple(checks), attribute, tab.ordered(attribute),
                              np.asarray(column.codes, dtype=np.int64), column.uniques, Path(base_dir))


@dataclass(frozen=True)
class SearchCriteria:
    """Checks bound to one table: what the search asks of every node's classes."""

    checks: tuple[tuple[str, PrivacyModel], ...]
    sensitive: str | None = None
    ordered: bool = False
    #: the sensitive column's code per row, and its values
    codes: np.ndarray | None = None
    values: pd.Index | None = None
    base_dir: Path = Path(".")

    @property
    def n_values(self) -> int:
        return 0 if self.values is None else len(self.values)

    def cells(self, table: "ClassTable") -> ClassCells:
        if table.sens is None:
            return ClassCells(table.sizes)
        ct = dv.contingency_from_cells(table.cls, table.sens, table.counts, len(table.sizes), self.n_values)
        return ClassCells(table.sizes, ct, self.ordered, self.values, self.base_dir)

    def failing_by_check(self, table: "ClassTable") -> dict[str, np.ndarray]:
        cells = self.cells(table)
        return {name: check.failing(cells) for name, check in self.checks}

    def failing(self, table: "ClassTable") -> np.ndarray:
        """Per class: True when the class must be suppressed (it fails some check)."""
        fail = np.zeros(len(table.sizes), dtype=bool)
        for f in self.failing_by_check(table).values():
            fail |= f
        return fail

    def monotone(self, max_outliers: int) -> bool:
        """Whether satisfying the criteria at a node implies it at every more general node (with suppression
        only checks whose merged class fails only when all its parts fail stay so)."""
        return all(check.monotonic(max_outliers > 0) for _, check in self.checks)

    def monotone_part_failing(self, table: "ClassTable") -> np.ndarray:
        """Per class: fails a necessary condition of the criteria that stays monotone with suppression."""
        cells = self.cells(table)
        fail = np.zeros(len(table.sizes), dtype=bool)
        for _, check in self.checks:
            part = check.necessary_failing(cells)
            if part is not None:
                fail |= part
        return fail


@dataclass(frozen=True)
class ClassTable:
    """A node's grouping: table rows are (class, sensitive value) pairs, or classes without a sensitive column."""

    cls: np.ndarray        # class id of every table row
    counts: np.ndarray     # rows of the data in every table row
    sizes: np.ndarray      # rows per class
    sens: np.ndarray | None = None  # sensitive code of every table row
