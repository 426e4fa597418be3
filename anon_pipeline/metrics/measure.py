"""The plain entry point: every anonymity and risk measure of a table in one call, from one encoding.

``measure(df, quasi_identifiers, sensitive_attributes, **params)`` returns a JSON-ready dict whose keys line up
with pycanon's function names where pycanon has one (``k_anonymity``, ``l_diversity``, ``entropy_l_diversity``,
``recursive_c_l_diversity``, ``t_closeness``, ``delta_disclosure``, ``basic_beta_likeness``,
``enhanced_beta_likeness``, ``alpha_k_anonymity``), plus the class-size distribution, source document C's
class, risk figures and per-attribute detail. Over several sensitive attributes, l-type measures take the
minimum and t, delta, beta and alpha the maximum (pycanon's ``gen=True``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from anon_pipeline.metrics import diversity as dv
from anon_pipeline.metrics.counted import CountedRows
from anon_pipeline.metrics.encoding import EncodedColumn, code_dtype, dense_rank, encode_frame, joint_ids
from anon_pipeline.metrics.k_anonymity import k_from_sizes
from anon_pipeline.metrics.risk import marketer_risk, prosecutor_risk, uniques_resolved_without
from anon_pipeline.jsonable import jsonable

MISSING_VALUES_NOTE = "missing values in a quasi-identifier are a value of their own (they form their own classes)"


class MeasureParams(BaseModel):
    """Options of :func:`measure`; unknown names are an error so a typo cannot silently change a figure."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    #: k target: adds rows and classes below it.
    k: int | None = Field(None, ge=1)
    #: A record is "at risk" when its prosecutor risk 1/f exceeds this.
    risk_threshold: float = Field(0.2, gt=0, le=1)
    #: Size of the population the table was sampled from (marketer risk); default: the table is the population.
    population_size: int | None = Field(None, ge=1)
    #: Suppressed rows are left out of every measure ("exclude", as ARX does) or form one ``*`` class ("class").
    suppressed: Literal["exclude", "class"] = "exclude"
    #: Boolean mask of suppressed rows; default: rows whose quasi-identifiers all equal ``suppression_marker``.
    suppressed_rows: Any = None
    suppression_marker: Any = "*"
    #: Value order (lowest first) of ordinal sensitive attributes: t-closeness uses the ordered distance.
    ordinal: dict[str, list[Any]] = Field(default_factory=dict)
    #: Override the t-closeness ground distance per attribute (default: ordered for numeric, equal otherwise).
    t_distance: dict[str, Literal["equal", "ordered"]] = Field(default_factory=dict)
    #: Per quasi-identifier uniqueness contributions (one extra group-by per quasi-identifier).
    uniqueness: bool = True
    #: How many of the smallest classes to list with their (generalised) values; 0 lists none.
    show_smallest: int = Field(0, ge=0)


def _suppression_mask(qi_cols: list[EncodedColumn], params: MeasureParams, n_rows: int) -> np.ndarray:
    if params.suppressed_rows is not None:
        mask = np.asarray(params.suppressed_rows, dtype=bool)
        if mask.shape != (n_rows,):
            raise ValueError(f"suppressed_rows has {mask.size} entries for a table of {n_rows} rows")
        return mask
    mask = np.ones(n_rows, dtype=bool) if qi_cols else np.zeros(n_rows, dtype=bool)
    for col in qi_cols:
        hits = np.flatnonzero(col.uniques.astype(object) == params.suppression_marker)
        if not hits.size:
            return np.zeros(n_rows, dtype=bool)
        mask &= col.codes == hits[0]
    return mask


def _subset(col: EncodedColumn, keep: np.ndarray) -> EncodedColumn:
    """The column restricted to ``keep`` rows, re-densified so unused values do not count as values."""
    codes, used = dense_rank(col.codes[keep], max(col.cardinality, 1))
    return EncodedColumn(col.name, codes.astype(col.codes.dtype), col.uniques[used])


def _as_star_class(col: EncodedColumn, mask: np.ndarray, marker: Any) -> EncodedColumn:
    """Suppressed rows take one extra code holding the marker, so they form one class together."""
    hits = np.flatnonzero(col.uniques.astype(object) == marker)
    star = int(hits[0]) if hits.size else col.cardinality
    uniques = col.uniques if hits.size else col.uniques.append(pd.Index([marker], dtype=object))
    return EncodedColumn(col.name, np.where(mask, star, col.codes).astype(code_dtype(len(uniques))), uniques)


def _floor_l(x: float) -> int:
    """floor of an l computed as exp(entropy), forgiving the last-bit error of exp(ln n) for a uniform class."""
    return int(math.floor(x * (1 + 1e-12)))


def _sensitive(ct: dv.Contingency, ordered: bool) -> dict[str, Any]:
    distinct = int(dv.distinct_per_class(ct).min())
    ent = dv.entropy_l(ct)
    return {
        "l_diversity": distinct,
        "entropy_l_diversity": _floor_l(ent),
        "entropy_l_diversity_exact": ent,
        "t_closeness": float(dv.t_closeness_per_class(ct, ordered).max()),
        "t_distance": "ordered" if ordered else "equal",
        "delta_disclosure": dv.delta_disclosure(ct),
        "basic_beta_likeness": dv.basic_beta(ct),
        "enhanced_beta_likeness": dv.enhanced_beta(ct),
        "alpha": dv.alpha(ct),
        "n_values": ct.n_values,
    }


def _recursive(cts: list[dv.Contingency], l_value: int, order: str) -> tuple[int | None, int]:
    if l_value < 2:  # with l = 1 every class passes for c = 1: pycanon reports c as undefined, so do we
        return None, l_value
    c = max(dv.smallest_c(ct, l_value, order) for ct in cts)
    return (int(c) if math.isfinite(c) else None), l_value


def _smallest_classes(qi_cols: list[EncodedColumn], ids: np.ndarray, sizes: np.ndarray,
                      count: int) -> list[dict[str, Any]]:
    chosen = np.argsort(sizes, kind="stable")[:count]
    rows = np.flatnonzero(np.isin(ids, chosen))
    first_class, first_at = np.unique(ids[rows], return_index=True)
    first_row = dict(zip(first_class.tolist(), rows[first_at].tolist()))
    return [{"size": int(sizes[c]),
             "values": {col.name: jsonable(col.uniques[col.codes[first_row[int(c)]]]) for col in qi_cols}}
            for c in chosen]


@dataclass
class PreparedTable:
    """A table encoded once for a set of quasi-identifiers and sensitive attributes, suppression applied."""

    quasi_identifiers: list[str]
    sensitive_attributes: list[str]
    qi_cols: list[EncodedColumn]
    sa_cols: dict[str, EncodedColumn]
    ids: np.ndarray
    n_classes: int
    sizes: np.ndarray
    n_rows_in: int
    n_rows: int
    n_suppressed: int
    opts: MeasureParams
    orders: dict[str, list[Any]]
    #: Rows each row stands for (a table given as counts, ``metrics.counted``); None: each row is one row.
    weights: np.ndarray | None = None
    _contingencies: dict[str, dv.Contingency] = dataclass_field(default_factory=dict)

    def contingency(self, attribute: str) -> dv.Contingency:
        if attribute not in self._contingencies:
            col = self.sa_cols[attribute]
            self._contingencies[attribute] = dv.contingency(self.ids, self.n_classes, col.codes, col.cardinality,
                                                            self.weights)
        return self._contingencies[attribute]

    def ordered(self, attribute: str) -> bool:
        """Whether t-closeness uses the ordered distance: numeric, ordinal or ordered-categorical values."""
        override = self.opts.t_distance.get(attribute)
        if override is not None:
            return override == "ordered"
        uniques = self.sa_cols[attribute].uniques
        return (pd.api.types.is_numeric_dtype(uniques.dtype) or attribute in self.orders
                or bool(getattr(uniques.dtype, "ordered", False)))

    def n_missing(self, column: EncodedColumn) -> int:
        """Rows of the table whose value of ``column`` is missing."""
        if self.weights is None:
            return column.n_missing
        missing = np.flatnonzero(pd.isna(column.uniques))
        return int(self.weights[np.isin(column.codes, missing)].sum()) if missing.size else 0


def prepare(df: pd.DataFrame | CountedRows, quasi_identifiers: Sequence[str], sensitive_attributes: Sequence[str] = (),
            encoded: Mapping[str, EncodedColumn] | None = None, **params: Any) -> PreparedTable:
    """Encode the columns once, apply the suppression rule and group by the quasi-identifiers. ``encoded``: columns
    of ``df`` already encoded (``encode_frame``, same ``ordinal`` orders), for callers measuring one table twice.
    ``df`` may be a table given as counts (``metrics.counted.CountedRows``): every figure is the same as on the
    rows it stands for."""
    weights = None
    if isinstance(df, CountedRows):
        df, weights = df.frame, np.asarray(df.weights, dtype=np.int64)
    opts = MeasureParams(**params)
    qis, sas = list(dict.fromkeys(quasi_identifiers)), list(dict.fromkeys(sensitive_attributes))
    overlap = set(qis) & set(sas)
    if overlap:
        raise ValueError(f"columns are both quasi-identifier and sensitive: {sorted(overlap)}")
    orders = {c: opts.ordinal[c] for c in sas if c in opts.ordinal}
    given = encoded or {}
    encoded = {**encode_frame(df, [c for c in qis + sas if c not in given], orders), **given}
    n_total = len(df) if weights is None else int(weights.sum())
    qi_cols, sa_cols = [encoded[c] for c in qis], [encoded[c] for c in sas]

    mask = _suppression_mask(qi_cols, opts, len(df))
    n_suppressed = int(mask.sum()) if weights is None else int(weights[mask].sum())
    if opts.suppressed == "exclude" and mask.any():
        keep = ~mask
        qi_cols, sa_cols = [_subset(c, keep) for c in qi_cols], [_subset(c, keep) for c in sa_cols]
        weights = weights[keep] if weights is not None else None
    elif opts.suppressed == "class" and mask.any():
        qi_cols = [_as_star_class(c, mask, opts.suppression_marker) for c in qi_cols]
    n_rows = n_total - n_suppressed if opts.suppressed == "exclude" else n_total
    n_listed = len(df) - int(mask.sum()) if opts.suppressed == "exclude" else len(df)

    # Class ids in the order of the values only where the smallest classes are listed: every other figure is a
    # sum, minimum or maximum over classes, and unordered ids skip sorting a key per distinct row.
    ids, n_classes = joint_ids(qi_cols, n_listed, ordered=bool(opts.show_smallest))
    sizes = np.bincount(ids, weights=weights, minlength=n_classes).astype(np.int64) if n_rows \
        else np.zeros(0, dtype=np.int64)
    return PreparedTable(qis, sas, qi_cols, {c.name: c for c in sa_cols}, ids, n_classes, sizes, n_total, n_rows,
                         n_suppressed, opts, orders, weights)


def measure(df: pd.DataFrame | CountedRows, quasi_identifiers: Sequence[str], sensitive_attributes: Sequence[str] = (),
            encoded: Mapping[str, EncodedColumn] | None = None, **params: Any) -> dict[str, Any]:
    """Every anonymity and risk measure of ``df`` for the given quasi-identifiers and sensitive attributes.

    See :class:`MeasureParams` for the options (``encoded`` as for :func:`prepare`). Values of quasi-identifiers
    appear in the result only under ``smallest_classes``, and only when ``show_smallest`` asks for them.
    """
    return summarise(prepare(df, quasi_identifiers, sensitive_attributes, encoded, **params))


def summarise(tab: PreparedTable) -> dict[str, Any]:
    """The measure() dict of a prepared table."""
    opts, qis, sas = tab.opts, tab.quasi_identifiers, tab.sensitive_attributes
    ids, n_classes, sizes, n_rows = tab.ids, tab.n_classes, tab.sizes, tab.n_rows
    qi_cols = tab.qi_cols
    kan = k_from_sizes(sizes, qis, n_rows)

    out: dict[str, Any] = {
        "quasi_identifiers": qis,
        "sensitive_attributes": sas,
        "n_rows_in": tab.n_rows_in,
        "n_rows": n_rows,
        "n_suppressed": tab.n_suppressed,
        "suppressed": opts.suppressed,
        "k_anonymity": kan.K,
        "k_percent": kan.k_percent,
        "n_classes": kan.n_classes,
        "category": kan.category,
        "class_size_distribution": kan.class_size_distribution,
        "missing_values": {c.name: tab.n_missing(c) for c in qi_cols},
        "notes": [MISSING_VALUES_NOTE],
    }
    if opts.k is not None:
        out.update(k_target=opts.k, rows_below_k=kan.rows_below(opts.k), classes_below_k=kan.classes_below(opts.k))
    out.update(prosecutor_risk(sizes, opts.risk_threshold))
    out["risk_threshold"] = opts.risk_threshold
    out["marketer_risk"] = marketer_risk(n_classes, n_rows, opts.population_size)
    if opts.uniqueness:
        out["uniques_resolved_without"] = uniques_resolved_without(qi_cols, ids, sizes) if n_rows else {}

    per_attr: dict[str, dict[str, Any]] = {}
    cts: list[dv.Contingency] = []
    if n_rows:
        for name in sas:
            ct = tab.contingency(name)
            per_attr[name] = _sensitive(ct, tab.ordered(name))
            cts.append(ct)
    if per_attr:
        agg = {key: min if key.startswith(("l_", "entropy")) else max
               for key in ("l_diversity", "entropy_l_diversity", "entropy_l_diversity_exact", "t_closeness",
                           "delta_disclosure", "basic_beta_likeness", "enhanced_beta_likeness", "alpha")}
        for key, fn in agg.items():
            out[key] = fn(a[key] for a in per_attr.values())
        out["recursive_c_l_diversity"] = _recursive(cts, out["l_diversity"], "descending")
        out["recursive_c_l_diversity_pycanon"] = _recursive(cts, out["l_diversity"], "ascending")
        out["alpha_k_anonymity"] = (out.pop("alpha"), kan.K)
        for name, ct in zip(per_attr, cts):
            per_attr[name]["recursive_c_l_diversity"] = _recursive([ct], per_attr[name]["l_diversity"], "descending")
    else:
        for key in ("l_diversity", "entropy_l_diversity", "entropy_l_diversity_exact", "t_closeness",
                    "delta_disclosure", "basic_beta_likeness", "enhanced_beta_likeness",
                    "recursive_c_l_diversity", "recursive_c_l_diversity_pycanon", "alpha_k_anonymity"):
            out[key] = None
    out["per_attribute"] = per_attr
    if opts.show_smallest and n_rows:
        out["smallest_classes"] = _smallest_classes(qi_cols, ids, sizes, opts.show_smallest)
    return out
