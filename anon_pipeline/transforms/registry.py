"""The registry of transform ops: a decorator for this package and an entry-point group for plugins.

An op is a class with a pydantic ``Params`` model and the fit/apply split: ``fit`` looks at the data and
returns a small JSON-serialisable plan; ``apply`` uses only the plan, so a fitted plan can be frozen and
replayed on new data or another batch.

For the streaming engine an op says what its fit needs (``fit_needs``) and whether apply works on any batch of
rows alone (``row_local``; for synthesis, ``draws_per_batch``). An op that says neither gets the conservative
defaults: its fit sees every row (the whole column or group in memory) and the run is not split into batches;
correct, at the cost of memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
from pydantic import ConfigDict

# PluginLoadWarning is re-exported: plugins and tests know it from here.
from anon_pipeline.plugins import BrokenPlugin, PluginLoadWarning, load_plugins  # noqa: F401
from anon_pipeline.stats.moments import Moments
from anon_pipeline.strict_model import StrictModel, closest

if TYPE_CHECKING:
    from anon_pipeline.dp.accounting import Spend

ENTRY_POINT_GROUP = "anon_pipeline.transforms"
#: The module registering the built-in ops (the ``builtin`` entry point of ``ENTRY_POINT_GROUP``).
BUILTIN_MODULE = "anon_pipeline.builtin_ops"


class OpParams(StrictModel):
    """Base for op parameter models: unknown fields (named with the closest valid one), booleans where numbers
    are meant, NaN and infinity are errors, so a typo in a policy fails at load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FitNeeds(str, Enum):
    """What an op's ``fit`` must see of the data; the streaming engine gathers it in one pass over the batches."""

    #: The plan comes from the params alone: fit gets an empty input of the right columns.
    NOTHING = "nothing"
    #: Each distinct value (column op) or distinct row (table op) once, in no particular order.
    DISTINCT = "distinct"
    #: Each distinct value or row once, with how many rows it stands for in ``FitContext.weights``.
    COUNTS = "counts"
    #: Count, mean, variance, min and max of each of the op's ``moment_columns`` (``stats.moments``), merged over
    #: batches: fit gets an empty input of the right columns and the statistics in ``FitContext.moments``.
    MOMENTS = "moments"
    #: Every row, in memory: the fallback, whose memory grows with the table.
    ROWS = "rows"


@dataclass(frozen=True)
class FitContext:
    """What an op may know besides its input: where it runs, the policy's seed and reference date."""

    column: str
    seed: int
    reference_date: date | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    step: int = 0
    #: False when a fitted plan maps rows into the release's domain for the attack evaluation: an op that drops
    #: or blanks rows of a batch (suppression) then keeps them all.
    suppress: bool = True
    #: When the engine fits on counts (``FitNeeds.COUNTS``): how many input rows each row of ``fit``'s input
    #: stands for. None: each row is one row.
    weights: np.ndarray | None = field(default=None, compare=False)
    #: When the engine fits on moments (``FitNeeds.MOMENTS``): those of the op's input. None: fit computes them
    #: from the rows it is given.
    moments: Moments | None = field(default=None, compare=False)
    #: The GUID of each row a column op's apply gets, indexed like its input (None outside the pipeline): ops that
    #: draw per row (``draws_by_row``) seed each row's draw from it.
    row_ids: pd.Series | None = field(default=None, compare=False)

    def row_weights(self, n: int) -> np.ndarray:
        """The weight of each of ``n`` fit rows (ones when fitting on rows)."""
        return np.ones(n, dtype=np.int64) if self.weights is None else np.asarray(self.weights)

    def rng(self) -> np.random.Generator:
        """A generator seeded from the policy seed, the column and the step, so steps do not share draws."""
        salt = int.from_bytes(hashlib.sha256(f"{self.column}\x00{self.step}".encode()).digest()[:8], "big")
        return np.random.default_rng([self.seed, salt])


class Op:
    """What every op has: its name, its ``Params``, what its fit needs and whether apply is row-local, and the
    load-time check. Subclass ``ColumnOp`` or ``TableOp``, not this."""

    name: ClassVar[str]
    Params: ClassVar[type[OpParams]] = OpParams
    #: Ops that draw from the seed row by row (noise, synthesis) set this: the pipeline then hands them rows in
    #: value order, so the same input and seed give the same output whatever order the rows came in.
    draws_by_position: ClassVar[bool] = False
    #: What fit must see (see ``FitNeeds``); plugins that do not say get every row.
    fit_needs: ClassVar[FitNeeds] = FitNeeds.ROWS
    #: Apply gives each row the same output whatever other rows share its batch (value-wise ops always do).
    row_local: ClassVar[bool] = False
    #: Why this op, with its params, needs every row when its class would stream (shown by ``engine_blockers``).
    whole_table_reason: str | None = None

    def __init__(self, params: OpParams) -> None:
        self.params = params

    def check_at_load(self, columns: list[str], base_dir: Path) -> None:
        """What the params alone cannot tell, checked when the policy loads, before any data is read: ``columns``
        are the op's column (a column op) or its group's columns (a table op), ``base_dir`` the policy's folder
        (where relative paths start). Raise ``ValueError`` with the reason. The default checks nothing."""

    def draws_new_rows(self) -> bool:
        """Whether the op's output always has rows of its own, none standing for an input row (fully synthetic
        with a new row count, as MST): then every kept column must come out of such a group, as no real row is
        left to carry another column. Checked when the policy loads."""
        return False

    def dp_spend(self) -> "Spend | None":
        """What a fit of this op spends of the dataset's privacy budget (a differentially private op), known from
        its params before any data is read, so that a run whose whole cost passes the budget is refused before
        anything is charged. Its fitted plan records the same under ``dp``. None: the op spends nothing."""
        return None

    def moment_columns(self, columns: list[str]) -> list[str]:
        """The input columns whose moments a ``FitNeeds.MOMENTS`` fit reads."""
        return list(columns)

    def key_tables(self, plan: dict[str, Any], ctx: FitContext) -> dict[str, pd.DataFrame]:
        """Tables an authorised user needs to decode the output (code -> value); empty for most ops."""
        return {}


class ColumnOp(Op):
    """A transform of one column: ``Series -> Series``."""

    #: Ops that may process a direct identifier (pseudonyms, masking) set this.
    allowed_on_identifiers: ClassVar[bool] = False
    #: Ops whose output is a one-to-one code of the input (encode, pseudonym) set this: reports must then not list
    #: the raw distribution beside the coded one (the pair is a code book).
    pseudonymising: ClassVar[bool] = False
    #: Ops whose output for a row depends only on that row's value (a look-up, a regex, a band) set this: the
    #: pipeline then applies them once per distinct value and maps the results back (``transforms/distinct.py``).
    value_wise: ClassVar[bool] = False
    #: Ops that draw each row's output from the plan seed and the row's GUID (``FitContext.row_ids``) set this:
    #: row-local, but two rows of one value get different outputs, so no later step is fitted on distinct values.
    draws_by_row: ClassVar[bool] = False

    @classmethod
    def batch_safe(cls) -> bool:
        """Whether the streaming engine may apply this op batch by batch with one plan."""
        return (cls.value_wise or cls.row_local) and not cls.draws_by_position

    def fit(self, values: pd.Series, ctx: FitContext) -> dict[str, Any]:
        """Learn what apply needs. The default plan is empty: most ops are fully described by params."""
        return {}

    def apply(self, values: pd.Series, plan: dict[str, Any], ctx: FitContext) -> pd.Series:
        raise NotImplementedError


class TableOp(Op):
    """A transform of a group of columns at once (synthesis, lattice generalisation): ``DataFrame -> DataFrame``.

    ``apply`` receives the group's columns and returns a frame with the same index and columns, or with
    fewer rows when the op suppresses rows (the op must say so in its plan under ``suppressed_rows``).
    """

    #: Ops that draw their output rows from the rows of the batch they get (synthesis), for which any random sample
    #: of the table (a GUID bucket) is as good a source as the whole table, set this: the streaming engine applies
    #: them bucket by bucket with the frozen plan, each bucket drawing from its own rows with a seed of its own.
    draws_per_batch: ClassVar[bool] = False

    @classmethod
    def batch_safe(cls) -> bool:
        return cls.draws_per_batch or (cls.row_local and not cls.draws_by_position)

    def fit(self, frame: pd.DataFrame, ctx: FitContext) -> dict[str, Any]:
        return {}

    def apply(self, frame: pd.DataFrame, plan: dict[str, Any], ctx: FitContext) -> pd.DataFrame:
        raise NotImplementedError


OpClass = TypeVar("OpClass", bound=type)

_REGISTRY: dict[str, type[ColumnOp] | type[TableOp]] = {}
_PLUGINS_LOADED = False


def register_op(name: str):
    """Class decorator: ``@register_op("band")`` makes the op available to policies under that name."""

    def decorate(cls: OpClass) -> OpClass:
        if not (issubclass(cls, ColumnOp) or issubclass(cls, TableOp)):
            raise TypeError(f"op '{name}': {cls.__name__} must subclass ColumnOp or TableOp")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"op '{name}' is already registered by {existing.__module__}.{existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


_BROKEN_PLUGINS: dict[str, BrokenPlugin] = {}


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    _BROKEN_PLUGINS.update(load_plugins(ENTRY_POINT_GROUP, BUILTIN_MODULE, _REGISTRY, "ops"))


def get_op(name: str) -> type[ColumnOp] | type[TableOp]:
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        owner = [b for b in _BROKEN_PLUGINS.values() if name in b.names]
        if owner:
            raise KeyError(f"op '{name}' is unavailable: {owner[0].describe()}") from None
        maybe = "".join(f"; it may come from {b.describe()}" for b in _BROKEN_PLUGINS.values())
        near = closest(name, list(_REGISTRY))
        meant = f" (did you mean '{near}'?)" if near else ""
        raise KeyError(f"unknown op '{name}'{meant}{maybe}; registered ops: {known}") from None


def registered_ops() -> dict[str, type[ColumnOp] | type[TableOp]]:
    _load_plugins()
    return dict(_REGISTRY)
