"""Privacy targets of a policy's ``privacy:`` section, and their evaluation on the anonymised table.

Each target (k, l with its variant and attribute, t, delta, beta, risk thresholds) becomes one
:class:`TargetResult` whose ``name`` is a valid check name. K blocks a release by default; every other target
blocks only when the policy says ``blocking: true``. Metadata carries measured values, targets, counts and
column names, never data values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from anon_pipeline.metrics import diversity as dv
from anon_pipeline.metrics.k_anonymity import k_from_sizes
from anon_pipeline.metrics.measure import PreparedTable, prepare
from anon_pipeline.metrics.risk import marketer_risk, prosecutor_risk
from anon_pipeline.strict_model import StrictModel


class _Target(StrictModel):
    #: A failing blocking target keeps the release from running.
    blocking: bool = False


class _PerAttribute(_Target):
    #: Sensitive attribute the target applies to; default: each sensitive attribute of the policy.
    attribute: str | None = None


class LTarget(_PerAttribute):
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
        return {"distinct": "l_diversity", "entropy": "entropy_l_diversity",
                "recursive": "recursive_c_l_diversity"}[self.variant]


class TTarget(_PerAttribute):
    t: float = Field(ge=0, le=1)
    #: Ground distance: "ordered" for numeric/ordinal values, "equal" for categories; "auto" picks by dtype.
    distance: Literal["auto", "equal", "ordered"] = "auto"
    #: Value order of an ordinal attribute, lowest first (implies the ordered distance).
    order: list[Any] | None = None
    check: ClassVar[str] = "t_closeness"


class DeltaTarget(_PerAttribute):
    delta: float = Field(gt=0)
    check: ClassVar[str] = "delta_disclosure"


class BetaTarget(_PerAttribute):
    beta: float = Field(gt=0)
    check: ClassVar[str] = "basic_beta_likeness"


class RiskTargets(_Target):
    """Upper bounds on re-identification risk over the k quasi-identifiers."""

    prosecutor_max: float | None = Field(None, gt=0, le=1)
    prosecutor_avg: float | None = Field(None, gt=0, le=1)
    marketer: float | None = Field(None, gt=0, le=1)
    sample_unique_share: float | None = Field(None, ge=0, le=1)
    #: Largest share of records whose prosecutor risk exceeds ``threshold``.
    records_at_risk_share: float | None = Field(None, ge=0, le=1)
    threshold: float = Field(0.2, gt=0, le=1)
    population_size: int | None = Field(None, ge=1)


class AllQuasiIdentifiersTarget(_Target):
    """When ``quasi_identifiers`` narrows the k target, K over every released quasi-identifier is checked against
    the same k too: a warning by default, blocking on request."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class PrivacyTargets(StrictModel):
    """The ``privacy:`` section of a policy. Every key is declared here, so an unknown one is an error."""

    k: int | None = Field(None, ge=1)
    #: Input column names the k target applies to (default: every quasi-identifier).
    quasi_identifiers: list[str] | None = None
    k_blocking: bool = True
    #: Rows whose quasi-identifiers are all ``suppression_marker`` are left out ("exclude") or one class ("class").
    suppressed: Literal["exclude", "class"] = "exclude"
    suppression_marker: str = "*"
    l: list[LTarget] = Field(default_factory=list)
    t: list[TTarget] = Field(default_factory=list)
    delta: list[DeltaTarget] = Field(default_factory=list)
    beta: list[BetaTarget] = Field(default_factory=list)
    risk: RiskTargets | None = None
    all_quasi_identifiers: AllQuasiIdentifiersTarget = Field(default_factory=AllQuasiIdentifiersTarget)
    #: Not a target: T % of document C's K_eps, reported for continuous quasi-identifiers (reports.anonymity).
    k_eps_level: float | None = Field(None, gt=0, le=100)

    _one_or_many = field_validator("l", "t", "delta", "beta", mode="before")(classmethod(lambda cls, v: _as_list(v)))


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
        return f"{self.name}: measured {self.measured} {'meets' if self.passed else 'misses'} target {op} {self.target}"


def _check_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(p for p in parts if p))


def _numbered(names: list[str]) -> list[str]:
    """Check names must be unique: a second target of the same kind on the same attribute gets ``_2``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _attributes(target: _PerAttribute, sensitive: Sequence[str], rename: Mapping[str, str]) -> list[str]:
    if target.attribute is None:
        if not sensitive:
            raise ValueError("a privacy target without 'attribute' needs at least one sensitive attribute")
        return list(sensitive)
    return [rename.get(target.attribute, target.attribute)]


def _result(name: str, measured: float | int | None, target: float | int, at_least: bool, blocking: bool,
            **meta: Any) -> TargetResult:
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        passed = False
    else:
        passed = measured >= target if at_least else measured <= target
    return TargetResult(name, bool(passed), blocking, measured, target,
                        {"comparison": ">=" if at_least else "<=", **meta})


def _l_result(tg: LTarget, ct: dv.Contingency, attr: str, base: dict[str, Any]) -> TargetResult:
    if tg.variant == "distinct":
        return _result(_check_name(tg.check, attr), int(dv.distinct_per_class(ct).min()), int(tg.l), True,
                       tg.blocking, variant="distinct", attribute=attr, **base)
    if tg.variant == "entropy":
        # exp(min entropy) >= l, with the last-bit slack of exp(ln l) for a class spread evenly over l values.
        measured = dv.entropy_l(ct)
        res = _result(_check_name(tg.check, attr), measured, tg.l, True, tg.blocking,
                      variant="entropy", attribute=attr, **base)
        return TargetResult(res.name, measured * (1 + 1e-12) >= tg.l, res.blocking, res.measured, res.target,
                            res.metadata)
    r1, tail = dv.recursive_c(ct, int(tg.l))
    worst = float("inf") if (tail == 0).any() else float((r1 / tail).max())
    # Passes when r1 < c * tail in every class, i.e. max r1 / tail < c (strict, as published).
    assert tg.c is not None  # LTarget requires c for the recursive variant
    passed = worst < tg.c
    meta = {"comparison": "<", "measured_is": "max over classes of r1 / (r_l + ... + r_m)",
            "variant": "recursive", "l": int(tg.l), "c": tg.c, "attribute": attr, **base}
    if not math.isfinite(worst):
        meta["why"] = f"a class has fewer than {int(tg.l)} distinct values"
    return TargetResult(_check_name(tg.check, attr), bool(passed), tg.blocking,
                        worst if math.isfinite(worst) else None, tg.c, meta)


def _per_attribute(spec: PrivacyTargets, tab: PreparedTable, attrs_of, base: dict[str, Any]) -> list[TargetResult]:
    results: list[TargetResult] = []
    for tg in spec.l:
        results += [_l_result(tg, tab.contingency(a), a, base) for a in attrs_of(tg)]
    for tt in spec.t:
        for a in attrs_of(tt):
            ordered = tab.ordered(a)
            measured = float(dv.t_closeness_per_class(tab.contingency(a), ordered).max())
            results.append(_result(_check_name(tt.check, a), measured, tt.t, False, tt.blocking,
                                   attribute=a, distance="ordered" if ordered else "equal", **base))
    for dt in spec.delta:
        results += [_result(_check_name(dt.check, a), dv.delta_disclosure(tab.contingency(a)), dt.delta,
                            False, dt.blocking, attribute=a, **base) for a in attrs_of(dt)]
    for bt in spec.beta:
        results += [_result(_check_name(bt.check, a), dv.basic_beta(tab.contingency(a)), bt.beta,
                            False, bt.blocking, attribute=a, **base) for a in attrs_of(bt)]
    return results


def _risk_figures(sizes) -> dict[str, float | int]:
    """Sample uniques and prosecutor risk from class sizes: shown beside every K, whatever the targets."""
    figures = prosecutor_risk(sizes, 1.0)
    return {k: figures[k] for k in ("sample_uniques", "sample_unique_share", "prosecutor_risk_max",
                                    "prosecutor_risk_avg")}


_RISK_KEYS = (("prosecutor_max", "prosecutor_risk_max"), ("prosecutor_avg", "prosecutor_risk_avg"),
              ("marketer", "marketer_risk"), ("sample_unique_share", "sample_unique_share"),
              ("records_at_risk_share", "records_at_risk_share"))


ALL_QIS_CHECK = "all_quasi_identifiers"


def planned_checks(privacy_section: Mapping[str, Any] | PrivacyTargets, sensitive_attributes: Sequence[str] = (),
                   rename: Mapping[str, str] | None = None, narrowed: bool = False) -> list[tuple[str, bool]]:
    """(name, blocking) of every result :func:`evaluate_targets` will return, in the same order, without data:
    what a Dagster definition needs to declare its checks up front. ``narrowed``: the k target applies to fewer
    quasi-identifiers than the table releases."""
    spec = _spec(privacy_section)
    rename = dict(rename or {})
    out = [("k_anonymity", spec.k_blocking)] if spec.k is not None else []
    if spec.k is not None and narrowed:
        out.append((ALL_QIS_CHECK, spec.all_quasi_identifiers.blocking))
    targets: list[LTarget | TTarget | DeltaTarget | BetaTarget] = [*spec.l, *spec.t, *spec.delta, *spec.beta]
    for tg in targets:
        out += [(_check_name(tg.check, a), tg.blocking) for a in _attributes(tg, sensitive_attributes, rename)]
    if spec.risk is not None:
        out += [(measured, spec.risk.blocking) for key, measured in _RISK_KEYS if getattr(spec.risk, key) is not None]
    return list(zip(_numbered([name for name, _ in out]), [blocking for _, blocking in out]))


def _spec(privacy_section: Mapping[str, Any] | PrivacyTargets) -> PrivacyTargets:
    if isinstance(privacy_section, PrivacyTargets):
        return privacy_section
    return PrivacyTargets.model_validate(dict(privacy_section))


def evaluate_targets(privacy_section: Mapping[str, Any] | PrivacyTargets, anonymised_df: pd.DataFrame,
                     quasi_identifiers: Sequence[str], sensitive_attributes: Sequence[str] = (),
                     rename: Mapping[str, str] | None = None,
                     all_quasi_identifiers: Sequence[str] | None = None) -> list[TargetResult]:
    """One result per target of the ``privacy:`` section, measured on ``anonymised_df``.

    ``quasi_identifiers`` and ``sensitive_attributes`` are column names of ``anonymised_df`` (the caller
    resolves the policy's k quasi-identifier set); ``rename`` maps policy (input) names used in targets'
    ``attribute`` to output names. A target naming no attribute applies to each sensitive attribute.
    ``all_quasi_identifiers``: every released quasi-identifier; when the k set is narrower, K over all of them
    is checked against k as well (the ``all_quasi_identifiers`` result).
    """
    spec = _spec(privacy_section)
    rename = dict(rename or {})

    def attrs_of(tg: _PerAttribute) -> list[str]:
        return _attributes(tg, sensitive_attributes, rename)

    per_attr_targets = [*spec.l, *spec.t, *spec.delta, *spec.beta]
    needed = list(dict.fromkeys(a for tg in per_attr_targets for a in attrs_of(tg)))
    orders = {a: tg.order for tg in spec.t if tg.order for a in attrs_of(tg)}
    distances = {a: tg.distance for tg in spec.t if tg.distance != "auto" for a in attrs_of(tg)}
    risk = spec.risk or RiskTargets()
    tab = prepare(anonymised_df, quasi_identifiers, needed, suppressed=spec.suppressed,
                  suppression_marker=spec.suppression_marker, ordinal=orders, t_distance=distances,
                  risk_threshold=risk.threshold, population_size=risk.population_size)
    kan = k_from_sizes(tab.sizes, tab.quasi_identifiers, tab.n_rows)
    base = {"quasi_identifiers": tab.quasi_identifiers, "n_rows": tab.n_rows, "n_suppressed": tab.n_suppressed,
            "n_classes": tab.n_classes}
    results: list[TargetResult] = []
    if spec.k is not None:
        results.append(_result("k_anonymity", kan.K, spec.k, True, spec.k_blocking, k_percent=kan.k_percent,
                               rows_below_k=kan.rows_below(spec.k), classes_below_k=kan.classes_below(spec.k),
                               **_risk_figures(tab.sizes), **base))
        everything = list(all_quasi_identifiers or [])
        if everything and set(everything) != set(tab.quasi_identifiers):
            wide = prepare(anonymised_df, everything, suppressed=spec.suppressed,
                           suppression_marker=spec.suppression_marker)
            wide_k = k_from_sizes(wide.sizes, wide.quasi_identifiers, wide.n_rows)
            results.append(_result(ALL_QIS_CHECK, wide_k.K, spec.k, True, spec.all_quasi_identifiers.blocking,
                                   k_percent=wide_k.k_percent, rows_below_k=wide_k.rows_below(spec.k),
                                   **_risk_figures(wide.sizes), quasi_identifiers=wide.quasi_identifiers,
                                   n_rows=wide.n_rows, n_suppressed=wide.n_suppressed, n_classes=wide.n_classes))
    results += _per_attribute(spec, tab, attrs_of, base)
    if spec.risk is not None:
        figures = prosecutor_risk(tab.sizes, risk.threshold)
        figures["marketer_risk"] = marketer_risk(tab.n_classes, tab.n_rows, risk.population_size)
        for key, measured_key in _RISK_KEYS:
            bound = getattr(risk, key)
            if bound is not None:
                extra = {"threshold": risk.threshold} if key == "records_at_risk_share" else {}
                results.append(_result(measured_key, figures[measured_key], bound, False, risk.blocking,
                                       **extra, **base))
    return [replace(r, name=name) for r, name in zip(results, _numbered([r.name for r in results]))]
