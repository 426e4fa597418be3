"""What a privacy model is: a typed spec read from the ``privacy:`` section, and per target a check that measures
the whole table and tests each equivalence class, so the release check and the lattice search decide alike.

A model (``PrivacyModel`` subclass, registered with ``register_privacy_model``) owns one or more keys of the
``privacy:`` section (``section_fields``) and binds what they say to checks (``bind``): one ``PrivacyModel``
instance per check, e.g. one per sensitive attribute. A per-class model gives one figure per class
(``per_class``) and a bound on it; the whole-table measure is the worst figure over the classes and the search's
per-class test is the same figure against the same bound, so the two cannot disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from anon_pipeline.metrics import diversity as dv
from anon_pipeline.strict_model import StrictModel

if TYPE_CHECKING:
    from anon_pipeline.metrics.measure import PreparedTable
    from anon_pipeline.metrics.counted import CountedRows

#: Slack on bounds of floating-point figures (entropy, distances): sums can land one ulp off an exact bound.
TOLERANCE = 1e-10


class TargetSpec(StrictModel):
    #: A failing blocking target keeps the release from running.
    blocking: bool = False


class PerAttributeSpec(TargetSpec):
    #: Sensitive attribute the target applies to; default: each sensitive attribute of the policy.
    attribute: str | None = None


@dataclass(frozen=True)
class TargetResult:
    name: str
    passed: bool
    blocking: bool
    measured: float | int | None
    target: float | int | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def description(self) -> str:
        op = self.metadata.get("comparison", "")
        if self.measured is None:  # no class to measure: an empty table, or every row suppressed
            return f"{self.name}: nothing to measure (no equivalence class is left), so it misses target {op} " \
                f"{self.target}"
        return f"{self.name}: measured {self.measured} {'meets' if self.passed else 'misses'} target {op} {self.target}"


@dataclass(frozen=True)
class ClassCells:
    """What a per-class test sees of a table (the release's or a search node's): rows per class and, for a model
    on a sensitive attribute, its (class, value) contingency and whether its values are ordered."""

    sizes: np.ndarray
    contingency: dv.Contingency | None = None
    ordered: bool = False
    #: the attribute's value of every code of the contingency, and the folder relative paths start from (the
    #: policy's), for a model that needs more than codes (a hierarchy over the values)
    values: pd.Index | None = None
    base_dir: Path = Path(".")


@dataclass(frozen=True)
class Evaluation:
    """What a check measures on: the prepared release table, the table itself, the ``privacy:`` section, every
    released quasi-identifier, and the metadata every result carries."""

    table: "PreparedTable"
    #: The release's rows, or their counts (``metrics.counted.CountedRows``): ``prepare`` takes either.
    frame: "pd.DataFrame | CountedRows"
    section: Any
    all_quasi_identifiers: list[str]
    base: dict[str, Any]
    base_dir: Path = Path(".")


def clean_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(p for p in parts if p))


def one_or_many(value: Any) -> Any:
    """``l: {l: 2}`` is a list of one target."""
    return [value] if isinstance(value, dict) else value


class PrivacyModel:
    """One privacy model. Subclasses set ``key``, ``Spec`` and ``check``, and either ``per_class`` with
    ``at_least`` (a bound on a per-class figure) or override ``measure`` and ``failing``."""

    #: Registry name (set by ``register_privacy_model``).
    name: ClassVar[str]
    #: The ``privacy:`` key holding this model's target(s).
    key: ClassVar[str]
    Spec: ClassVar[type[TargetSpec]] = TargetSpec
    #: The key takes a list of targets (one alone is a list of one).
    many: ClassVar[bool] = True
    #: Check name prefix; a per-attribute check appends ``_<attribute>``.
    check: ClassVar[str]
    #: The figure must be at least (True) or at most (False) the bound.
    at_least: ClassVar[bool] = True
    #: Name of the spec field holding the bound.
    bound_field: ClassVar[str]
    #: Slack added to an upper bound (floating-point figures such as distances).
    tolerance: ClassVar[float] = 0.0
    #: Whether the lattice search can decide this model class by class.
    searchable: ClassVar[bool] = True
    #: What the check requires, in release column names ({attr}, {qis}).
    text: ClassVar[str] = "privacy target {name} over {qis}"

    def __init__(self, spec: TargetSpec, attribute: str | None = None) -> None:
        self.spec = spec
        #: the sensitive attribute (output name) a per-attribute check measures
        self.attribute = attribute

    # ---- the privacy: section ---------------------------------------------------------------------------------
    @classmethod
    def section_fields(cls) -> dict[str, tuple[Any, Any]]:
        """The ``privacy:`` keys this model owns, as pydantic field definitions (type, default)."""
        if cls.many:
            return {cls.key: (list[cls.Spec], Field(default_factory=list))}  # type: ignore[name-defined]
        return {cls.key: (cls.Spec | None, None)}

    @classmethod
    def section_validators(cls) -> dict[str, Any]:
        if not cls.many:
            return {}
        return {f"_one_or_many_{cls.key}": field_validator(cls.key, mode="before")(
            classmethod(lambda _cls, v: one_or_many(v)))}

    @classmethod
    def specs(cls, section: Any) -> Sequence[TargetSpec]:
        value = getattr(section, cls.key, None)
        if value is None:
            return []
        return list(value) if cls.many else [value]

    @classmethod
    def bind(cls, section: Any, sensitive: Sequence[str], rename: Mapping[str, str],
             narrowed: bool = False) -> list["PrivacyModel"]:
        """One check per target of ``section`` (per attribute for a per-attribute spec), in order."""
        out: list[PrivacyModel] = []
        for spec in cls.specs(section):
            if isinstance(spec, PerAttributeSpec):
                if spec.attribute is None and not sensitive:
                    raise ValueError(f"privacy target '{cls.key}' without 'attribute' needs at least one sensitive "
                                     "attribute")
                attrs = list(sensitive) if spec.attribute is None else [rename.get(spec.attribute, spec.attribute)]
                out += [cls(spec, a) for a in attrs]
            else:
                out.append(cls(spec))
        return out

    # ---- one check --------------------------------------------------------------------------------------------
    @property
    def check_name(self) -> str:
        return clean_name(self.check, self.attribute or "")

    @property
    def blocking(self) -> bool:
        return self.spec.blocking

    @property
    def bound(self) -> float:
        return getattr(self.spec, self.bound_field)

    def monotonic(self, suppression: bool) -> bool:
        """Whether meeting the target at a node implies it at every more general node; ``suppression``: with
        failing classes suppressed within a budget (only a test that a merged class fails only when all its parts
        fail stays monotone then). The default, False, is safe: the search then checks node by node what passes
        the other models' monotone parts."""
        return False

    def order(self) -> list[Any] | None:
        """Value order of the attribute (ordinal values), if the target gives one."""
        return None

    def distance(self) -> str | None:
        """The t-closeness ground distance the target asks for ("equal", "ordered"), or None for the default."""
        return None

    def per_class(self, cells: ClassCells) -> np.ndarray:
        raise NotImplementedError

    def passes(self, figures: np.ndarray) -> np.ndarray:
        """Per class: the figure meets the bound (an upper bound with the model's ``tolerance``)."""
        if self.at_least:
            return figures >= self.bound
        return figures <= self.bound + self.tolerance

    def failing(self, cells: ClassCells) -> np.ndarray:
        """Per class: True when the class breaks the target (the search suppresses it)."""
        return ~self.passes(self.per_class(cells))

    def necessary_failing(self, cells: ClassCells) -> np.ndarray | None:
        """Per class: fails a necessary condition of the target that stays monotone with suppression, so the
        search can prune with it when the target itself is not (None: no such condition)."""
        return self.failing(cells) if self.monotonic(True) else None

    def measured(self, figures: np.ndarray) -> float | int | None:
        if not len(figures):
            return None
        worst = figures.min() if self.at_least else figures.max()
        return int(worst) if np.issubdtype(figures.dtype, np.integer) else float(worst)

    def metadata(self, cells: ClassCells) -> dict[str, Any]:
        return {"attribute": self.attribute} if self.attribute is not None else {}

    def measure(self, ev: Evaluation) -> TargetResult:
        """The check on the release: the worst per-class figure, passing when every class passes."""
        cells = cells_of(ev.table, self.attribute, ev.base_dir)
        figures = self.per_class(cells) if ev.table.n_rows else np.zeros(0)
        measured = self.measured(figures)
        passed = measured is not None and not (isinstance(measured, float) and math.isnan(measured)) \
            and bool(self.passes(figures).all())
        return TargetResult(self.check_name, passed, self.blocking, measured, self.bound,
                            {"comparison": ">=" if self.at_least else "<=", **self.metadata(cells), **ev.base})

    def describe(self, qis: str, **context: Any) -> str:
        return self.text.format(attr=self.attribute or "", qis=qis, name=self.check_name)


def cells_of(tab: "PreparedTable", attribute: str | None, base_dir: Path = Path(".")) -> ClassCells:
    """The per-class view of a prepared table for a check on ``attribute`` (None: class sizes only)."""
    if attribute is None or not tab.n_rows:
        return ClassCells(tab.sizes)
    return ClassCells(tab.sizes, tab.contingency(attribute), tab.ordered(attribute), tab.sa_cols[attribute].uniques,
                      Path(base_dir))
