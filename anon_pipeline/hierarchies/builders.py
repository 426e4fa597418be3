"""Building hierarchies from policy-style specs: intervals, masking, dates, explicit groupings, references, and
the kinds plugins register (``hierarchies.registry``).

Every builder returns a frame in ARX's layout -- column 0 the value (as a string), then ever more general
levels, the last one ``*`` -- covering the distinct values it is given. Values a spec cannot place (outside
the interval edges, missing from a grouping) are left out, so the coverage check names them as uncovered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import (Field, SerializationInfo, SerializerFunctionWrapHandler, ValidationError, field_validator,
                      model_serializer, model_validator)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from anon_pipeline.hierarchies.arx_csv import load_arx_csv
from anon_pipeline.hierarchies.encoded import as_hierarchy_strings
from anon_pipeline.hierarchies.registry import register_hierarchy_kind, registered_hierarchy_kinds
from anon_pipeline.strict_model import StrictModel, closest, unknown_key_error

TOP = "*"


# A column of labels: None where a level cannot place the value (such rows are dropped).
_Labels = Sequence[str | None] | np.ndarray


def _finish(base: _Labels, levels: Sequence[_Labels]) -> pd.DataFrame:
    """Stack value and levels, dropping rows any level could not place, and end with ``*``."""
    frame = pd.DataFrame({i: list(col) for i, col in enumerate([base, *levels])}, dtype=object)
    frame = frame.dropna().drop_duplicates(subset=[0])
    if frame.shape[1] == 1 or (frame.iloc[:, -1] != TOP).any():
        frame[frame.shape[1]] = TOP
    return frame.astype(str).reset_index(drop=True)


def _distinct(values: pd.Series) -> pd.Series:
    return pd.Series(values).dropna().drop_duplicates().reset_index(drop=True)


def intervals(values: pd.Series, edges_per_level: Sequence[Sequence[float]]) -> pd.DataFrame:
    """Numeric bins per level: ``edges_per_level[i]`` are the ascending edges of level ``i+1``'s bins ``[a, b)``."""
    distinct = _distinct(pd.to_numeric(values, errors="coerce"))
    base = as_hierarchy_strings(distinct)
    levels = []
    for edges in edges_per_level:
        cuts = np.asarray(sorted(float(e) for e in edges))
        if len(cuts) < 2:
            raise ValueError("an interval level needs at least two edges")
        pos = np.searchsorted(cuts, distinct.to_numpy(dtype=float), side="right") - 1
        inside = (pos >= 0) & (pos < len(cuts) - 1)
        labels = [f"[{_num(cuts[p])}, {_num(cuts[p + 1])})" if ok else None for p, ok in zip(pos, inside)]
        levels.append(labels)
    return _finish(base, levels)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def masking(values: pd.Series, masked_per_level: int | Sequence[int]) -> pd.DataFrame:
    """Trailing characters replaced by ``*``: level ``i`` masks ``masked_per_level[i-1]`` characters."""
    counts = list(range(1, int(masked_per_level) + 1)) if isinstance(masked_per_level, int) else list(masked_per_level)
    base = pd.Series(as_hierarchy_strings(_distinct(values)), dtype="str")
    lengths = base.str.len().to_numpy()
    levels = []
    for n in counts:
        # Values of one length share the cut, so each length is one vectorised slice (a few lengths, many values).
        level = np.empty(len(base), dtype=object)
        for length in np.unique(lengths):
            rows = lengths == length
            cut = base[rows].str.slice(0, max(int(length) - n, 0)) + "*" * min(n, int(length))
            level[rows] = cut.to_numpy(dtype=object)
        levels.append(level)
    return _finish(base.to_numpy(dtype=object), levels)


_DATE_LEVELS = {
    "month": lambda d: d.dt.strftime("%Y-%m"),
    "year": lambda d: d.dt.strftime("%Y"),
    "decade": lambda d: (d.dt.year // 10 * 10).astype(str) + "s",
}


def dates(values: pd.Series, levels: Sequence[str] = ("month", "year", "decade")) -> pd.DataFrame:
    """Calendar generalisation of dates: day -> month -> year -> decade (any ordered subset)."""
    distinct = _distinct(values)
    parsed = pd.to_datetime(distinct, errors="coerce")
    unknown = [lv for lv in levels if lv not in _DATE_LEVELS]
    if unknown:
        raise ValueError(f"unknown date level(s) {unknown}; use {list(_DATE_LEVELS)}")
    base = as_hierarchy_strings(distinct)
    cols = [_DATE_LEVELS[lv](parsed).where(parsed.notna(), None).tolist() for lv in levels]
    return _finish(base, cols)


def groupings(values: pd.Series, maps: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """Explicit groups: ``maps[0]`` maps values to groups, ``maps[1]`` those groups to larger ones, and so on."""
    base = [str(v) for v in as_hierarchy_strings(_distinct(values))]
    levels: list[list[str | None]] = []
    current: list[str | None] = list(base)
    for mapping in maps:
        lookup = {str(k): str(v) for k, v in mapping.items()}
        current = [lookup.get(v) if v is not None else None for v in current]
        levels.append(current)
    return _finish(base, levels)


def uk_postcodes(values: pd.Series) -> pd.DataFrame:
    """Postcode (or district) -> district -> area -> region -> nation, from the shipped ONS tables.

    A few postcode areas straddle regions; their area label then names the region too (``SY (Wales)``) so
    the hierarchy stays a tree.
    """
    from anon_pipeline.reference.postcodes import lookup

    distinct = _distinct(values).astype(str)
    levels = {lv: lookup(distinct, lv) for lv in ("district", "area", "region", "nation")}
    area, region = levels["area"], levels["region"]
    regions_per_area = region.groupby(area).nunique()
    split = area.map(regions_per_area).fillna(0) > 1
    levels["area"] = area.where(~split, area + " (" + region + ")")
    return _finish(distinct.tolist(), [levels[lv].tolist() for lv in ("district", "area", "region", "nation")])


def countries(values: pd.Series) -> pd.DataFrame:
    """Country name -> UN sub-region -> continent -> cross-continent region (APAC, Europe, Africa, Americas).

    Sub-regions are UN M49's (``anon_pipeline.reference.countries``); one spanning continents (``Western Asia``
    holds Cyprus) is labelled with the continent too, so the hierarchy stays a tree.
    """
    from anon_pipeline.reference.countries import CROSS_CONTINENT, continents, sub_regions

    distinct = _distinct(values).astype(str)
    continent = continents(distinct)
    sub = sub_regions(distinct)
    spans = sub.map(continent.groupby(sub).nunique()).fillna(0) > 1
    sub = sub.where(~spans, sub + " (" + continent + ")")
    return _finish(distinct.tolist(), [sub.tolist(), continent.tolist(), continent.map(CROSS_CONTINENT).tolist()])


REFERENCES = {"uk_postcode": uk_postcodes, "country": countries}
_KINDS = ("arx", "intervals", "mask", "dates", "groups", "reference")
#: Most characters a mask level may hide (a larger number is a typo, and ``mask: n`` makes n levels).
MAX_MASK = 256
_MaskLevel = Annotated[int, Field(ge=1, le=MAX_MASK)]


class PluginHierarchy(NamedTuple):
    """A plugin kind's hierarchy: its registered name and its validated spec."""

    kind: str
    arg: Any


def _plugin_hierarchy(data: Mapping[str, Any]) -> PluginHierarchy:
    """``{kind: <name>, ...params}`` validated against the registered kind's spec."""
    name = data["kind"]
    kinds = registered_hierarchy_kinds()
    kind = kinds.get(name) if isinstance(name, str) else None
    if kind is None:
        plugin_kinds = [k for k, v in kinds.items() if v.spec is not None]
        best = closest(str(name), list(kinds))
        hint = f" (did you mean '{best}'?)" if best else ""
        raise PydanticCustomError("unknown_hierarchy_kind", "unknown hierarchy kind '{kind}'{hint}; registered plugin "
                                  "kinds: {plugins}", {"kind": str(name), "hint": hint,
                                                       "plugins": ", ".join(plugin_kinds) or "none"})
    if kind.spec is None:
        raise PydanticCustomError("builtin_hierarchy_kind", "the built-in kind '{kind}' is written '{kind}: ...', not "
                                  "'kind: {kind}'", {"kind": name})
    params = {k: v for k, v in data.items() if k != "kind"}
    try:
        return PluginHierarchy(name, kind.spec.model_validate(params))
    except ValidationError as exc:
        # Re-raised as one error naming the kind, each of the spec's errors with its field path.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
                             for e in exc.errors())
        raise PydanticCustomError("hierarchy_kind_params", "hierarchy kind '{kind}': {problems}",
                                  {"kind": name, "problems": problems}) from None


class HierarchySpec(StrictModel):
    """A hierarchy as a policy writes it: a path to an ARX CSV, a mapping with exactly one of the built-in kinds,
    or ``{kind: <a plugin's kind>, ...its params}``.

    Validated when the policy loads, so ``{maks: 1}`` or ``{intervals: "oops"}`` fails there, not in the search.
    """

    arx: str | None = None
    intervals: list[Annotated[list[float], Field(min_length=2)]] | None = Field(None, min_length=1)
    #: Characters masked per level; ``mask: n`` is short for ``[1, 2, ..., n]``.
    mask: list[_MaskLevel] | None = Field(None, min_length=1, max_length=MAX_MASK)
    dates: list[Literal["month", "year", "decade"]] | None = None
    groups: list[dict[str, str]] | None = Field(None, min_length=1)
    reference: str | None = None
    #: Set from the ``{kind: ...}`` form only (never a key of the policy).
    plugin: SkipJsonSchema[Any] = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _path_is_arx(cls, data: Any) -> Any:
        if isinstance(data, (str, Path)):
            return {"arx": str(data)}
        if isinstance(data, Mapping):
            if "kind" in data:
                return {"plugin": _plugin_hierarchy(data)}
            for key in data:
                if key not in _KINDS:
                    raise unknown_key_error(key, [*_KINDS, "kind"])
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        # The policy's JSON Schema (policy/schema.py) admits the path form that _path_is_arx reads.
        schema = handler.resolve_ref_schema(handler(core_schema))
        return {"anyOf": [{"type": "string", "description": "a path to an ARX hierarchy CSV"},
                          {k: v for k, v in schema.items() if k != "description"},
                          {"type": "object", "required": ["kind"], "description": "a plugin's hierarchy kind and "
                           "its parameters", "properties": {"kind": {"type": "string"}}}],
                "description": schema.get("description", "")}

    @field_validator("mask", mode="before", json_schema_input_type=list[_MaskLevel] | _MaskLevel | None)
    @classmethod
    def _mask_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_MASK:
                raise ValueError(f"mask: n needs 1 <= n <= {MAX_MASK}")
            return list(range(1, value + 1))
        return value

    @field_validator("groups", mode="before", json_schema_input_type=list[dict[str, str | float]] | None)
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        # Values in a YAML grouping may read as numbers (``1: low``); the hierarchy compares them as text.
        def text(v: Any) -> Any:
            return str(v) if isinstance(v, (int, float, str)) and not isinstance(v, bool) else v
        if isinstance(value, list):
            return [{text(k): text(v) for k, v in m.items()} if isinstance(m, dict) else m for m in value]
        return value

    @field_validator("reference")
    @classmethod
    def _known_reference(cls, value: str | None) -> str | None:
        if value is not None and value not in REFERENCES:
            raise ValueError(f"unknown reference hierarchy '{value}'; use {sorted(REFERENCES)}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> "HierarchySpec":
        if len(self.model_fields_set) != 1:
            raise ValueError(f"a hierarchy is a path or a mapping with exactly one of {', '.join(_KINDS)} "
                             "(or kind: <a plugin's kind>)")
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        # The one key a policy writes, so a dump validates back (the other kinds' None would break "exactly one").
        if self.plugin is not None:
            return {"kind": self.plugin.kind, **self.plugin.arg.model_dump(mode=info.mode)}
        return {k: v for k, v in handler(self).items() if k == self.kind}

    @property
    def kind(self) -> str:
        return self.plugin.kind if self.plugin is not None else next(iter(self.model_fields_set))

    @property
    def arg(self) -> Any:
        """What the kind's builder gets: the built-in field's value, or a plugin kind's validated spec."""
        return self.plugin.arg if self.plugin is not None else getattr(self, self.kind)


def check_hierarchy_file(path: str | Path, base_dir: Path) -> None:
    """A hierarchy's CSV file exists (relative to ``base_dir``, the policy's folder): checked when the policy
    loads, so a wrong name fails before any data is read. Raises ``ValueError`` naming the file looked for."""
    where = Path(os.path.normpath(Path(base_dir) / path))  # an absolute path replaces base_dir
    if not where.is_file():
        siblings = sorted(p.name for p in where.parent.glob("*.csv")) if where.parent.is_dir() else []
        near = closest(where.name, siblings)
        hint = f" (did you mean '{near}'?)" if near else ("" if where.parent.is_dir() else
                                                            f"; the folder {where.parent} does not exist")
        raise ValueError(f"hierarchy file {where} not found{hint}")


def build_hierarchy(spec: Any, values: pd.Series, base_dir: str | Path = ".") -> pd.DataFrame:
    """A hierarchy from a policy spec, for the given column values.

    Specs: a path to an ARX CSV (relative to ``base_dir``), or a mapping with one of ``arx: path``,
    ``intervals: [[edges of level 1], ...]``, ``mask: n | [chars per level]``, ``dates: [month, year, decade]``,
    ``groups: [{value: group}, {group: larger group}, ...]``, ``reference: uk_postcode | country``, or
    ``{kind: <a registered plugin kind>, ...}``.
    """
    if isinstance(spec, pd.DataFrame):
        return spec
    if not isinstance(spec, HierarchySpec):
        spec = HierarchySpec.model_validate(spec)
    return registered_hierarchy_kinds()[spec.kind].build(spec.arg, values, Path(base_dir))


# The built-in kinds, through the registry a plugin uses.

@register_hierarchy_kind("arx")
def _arx(arg: str, values: pd.Series, base_dir: Path) -> pd.DataFrame:
    path = Path(arg)
    return load_arx_csv(path if path.is_absolute() else base_dir / path)


@register_hierarchy_kind("intervals", value_local=True)
def _intervals(arg: list[list[float]], values: pd.Series, base_dir: Path) -> pd.DataFrame:
    return intervals(values, arg)


@register_hierarchy_kind("mask", value_local=True)
def _mask(arg: list[int], values: pd.Series, base_dir: Path) -> pd.DataFrame:
    return masking(values, arg)


@register_hierarchy_kind("dates", value_local=True)
def _dates(arg: list[str] | None, values: pd.Series, base_dir: Path) -> pd.DataFrame:
    return dates(values, arg or ("month", "year", "decade"))


@register_hierarchy_kind("groups")
def _groups(arg: list[dict[str, str]], values: pd.Series, base_dir: Path) -> pd.DataFrame:
    return groupings(values, arg)


@register_hierarchy_kind("reference", value_local=True)
def _reference(arg: str, values: pd.Series, base_dir: Path) -> pd.DataFrame:
    try:
        return REFERENCES[arg](values)
    except KeyError:
        raise ValueError(f"unknown reference hierarchy '{arg}'; use {sorted(REFERENCES)}") from None
