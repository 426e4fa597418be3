"""The ``privacy:`` section of a policy (and of ``generalise``): one model whose keys are those of the registered
privacy models, and its evaluation on the anonymised table.

Each target becomes one check whose ``name`` is a valid check name. K blocks a release by default; every other
target blocks only when the policy says ``blocking: true``. Metadata carries measured values, targets, counts
and column names, never data values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, create_model, model_validator

from anon_pipeline.criteria.base import Evaluation, PrivacyModel, TargetResult
from anon_pipeline.criteria.registry import registered_privacy_models
from anon_pipeline.metrics.counted import CountedRows
from anon_pipeline.metrics.measure import prepare
from anon_pipeline.strict_model import StrictModel


class _SectionKeys(StrictModel):
    """The keys no single model owns."""

    #: Rows whose quasi-identifiers are all ``suppression_marker`` are left out ("exclude") or one class ("class").
    suppressed: Literal["exclude", "class"] = "exclude"
    suppression_marker: str = "*"


_MODELS: dict[tuple, type[StrictModel]] = {}


def section_model() -> type[StrictModel]:
    """The pydantic model of the section for the models registered now (built-ins and loaded plugins)."""
    models = registered_privacy_models()
    key = tuple((name, id(cls)) for name, cls in models.items())
    if key not in _MODELS:
        fields: dict[str, Any] = {}
        validators: dict[str, Any] = {}
        for cls in models.values():
            fields.update(cls.section_fields())
            validators.update(cls.section_validators())
        _MODELS[key] = create_model("PrivacyTargets", __base__=_SectionKeys, __validators__=validators,
                                    __module__=__name__, **fields)
    return _MODELS[key]


class PrivacyTargets(StrictModel):
    """The ``privacy:`` section. Its keys are those of the registered privacy models, so a plugin's key is valid
    once the plugin is installed, and an unknown key is an error naming the closest valid one."""

    model_config = ConfigDict(extra="allow")

    if TYPE_CHECKING:
        # Its keys are the registered models' (``k``, ``l``, ``suppressed``, a plugin's...): known at run time only.
        def __getattr__(self, name: str) -> Any: ...

    @model_validator(mode="before")
    @classmethod
    def _through_the_models(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        # A ValidationError raised here keeps its field paths (under ``privacy``).
        return dict(section_model().model_validate({} if data is None else data))

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        return handler(section_model().__pydantic_core_schema__)


def _numbered(names: list[str]) -> list[str]:
    """Check names must be unique: a second target of the same kind on the same attribute gets ``_2``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def as_section(privacy_section: Mapping[str, Any] | PrivacyTargets) -> PrivacyTargets:
    if isinstance(privacy_section, PrivacyTargets):
        return privacy_section
    return PrivacyTargets.model_validate(dict(privacy_section))


def bind_checks(privacy_section: Mapping[str, Any] | PrivacyTargets, sensitive_attributes: Sequence[str] = (),
                rename: Mapping[str, str] | None = None, narrowed: bool = False) -> list[tuple[str, PrivacyModel]]:
    """(unique name, check) of every target of the section, in the order of the registered models."""
    section = as_section(privacy_section)
    checks = [check for cls in registered_privacy_models().values()
              for check in cls.bind(section, list(sensitive_attributes), dict(rename or {}), narrowed)]
    return list(zip(_numbered([c.check_name for c in checks]), checks))


def planned_checks(privacy_section: Mapping[str, Any] | PrivacyTargets, sensitive_attributes: Sequence[str] = (),
                   rename: Mapping[str, str] | None = None, narrowed: bool = False) -> list[tuple[str, bool]]:
    """(name, blocking) of every result :func:`evaluate_targets` will return, in the same order, without data:
    what a Dagster definition needs to declare its checks up front. ``narrowed``: the k target applies to fewer
    quasi-identifiers than the table releases."""
    return [(name, check.blocking) for name, check in bind_checks(privacy_section, sensitive_attributes, rename,
                                                                   narrowed)]


def evaluate_targets(privacy_section: Mapping[str, Any] | PrivacyTargets, anonymised_df: pd.DataFrame | CountedRows,
                     quasi_identifiers: Sequence[str], sensitive_attributes: Sequence[str] = (),
                     rename: Mapping[str, str] | None = None,
                     all_quasi_identifiers: Sequence[str] | None = None,
                     base_dir: str | Path = ".") -> list[TargetResult]:
    """One result per target of the ``privacy:`` section, measured on ``anonymised_df`` (its rows, or their counts
    over the quasi-identifiers and sensitive attributes: ``metrics.counted``).

    ``quasi_identifiers`` and ``sensitive_attributes`` are column names of ``anonymised_df`` (the caller
    resolves the policy's k quasi-identifier set); ``rename`` maps policy (input) names used in targets'
    ``attribute`` to output names. A target naming no attribute applies to each sensitive attribute.
    ``all_quasi_identifiers``: every released quasi-identifier; when the k set is narrower, K over all of them
    is checked against k as well (the ``all_quasi_identifiers`` result). ``base_dir``: the folder a target's
    relative paths (a t-closeness hierarchy) start from.
    """
    section = as_section(privacy_section)
    everything = list(all_quasi_identifiers or [])
    narrowed = bool(everything) and set(everything) != set(quasi_identifiers)
    checks = bind_checks(section, sensitive_attributes, rename, narrowed)
    needed = list(dict.fromkeys(c.attribute for _, c in checks if c.attribute is not None))
    orders = {c.attribute: c.order() for _, c in checks if c.attribute is not None and c.order()}
    distances = {c.attribute: c.distance() for _, c in checks if c.attribute is not None and c.distance()}
    tab = prepare(anonymised_df, quasi_identifiers, needed, suppressed=section.suppressed,
                  suppression_marker=section.suppression_marker, ordinal=orders, t_distance=distances)
    base = {"quasi_identifiers": tab.quasi_identifiers, "n_rows": tab.n_rows, "n_suppressed": tab.n_suppressed,
            "n_classes": tab.n_classes}
    ev = Evaluation(tab, anonymised_df, section, everything, base, Path(base_dir))
    return [replace(check.measure(ev), name=name) for name, check in checks]


def describe_check(check_name: str, privacy_section: Mapping[str, Any] | PrivacyTargets,
                   sensitive_attributes: Sequence[str], rename: Mapping[str, str], narrowed: bool, qis: str,
                   **context: Any) -> str:
    """What the check named ``check_name`` requires, in the release's column names (``qis``: the k
    quasi-identifiers, listed); ``context`` goes to the model's ``describe``."""
    for name, check in bind_checks(privacy_section, sensitive_attributes, rename, narrowed):
        if name == check_name:
            return check.describe(qis, **context)
    return f"privacy target {check_name} over {qis}"
