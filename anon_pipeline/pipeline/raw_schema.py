"""The raw schema: the policy's column declarations as typing rules plus a pandera schema.

``validate_raw`` types every column as the policy declares and checks every rule, collecting all problems
before raising one ``RawSchemaError`` that lists (column, rule, row count, hint). pandera's failure cases
hold data values; only their counts leave this module.

Only rules that matter for the release are checked: a ``role: drop`` column is checked for presence only. Each
hint names a policy setting that accepts this very file, phrased ``set <field>: <value> for this column`` or
``remove <field> for this column`` (or ``set source.<field>: <value>``), so a person or a script can apply it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from anon_pipeline.errors import RawSchemaError
from anon_pipeline.policy.model import ColumnSpec, Policy, Role

_DTYPES = {"str": "str", "int": "Int64", "float": "Float64", "date": "datetime64[ns]",
           "datetime": "datetime64[ns]", "bool": "boolean"}
_SCIENTIFIC = r"^[+-]?\d(\.\d+)?[eE][+-]?\d+$"
#: Undeclared columns listed one by one in an error; beyond that they are counted.
_LISTED_EXTRA = 20


def _problem(column: str, rule: str, n_rows: int, hint: str | None = None) -> dict:
    return {"column": column, "rule": rule, "n_rows": int(n_rows), "hint": hint}


def _released(spec: ColumnSpec) -> bool:
    """Whether the column's values, or values its steps derive, reach the release (an identifier without steps
    is only searched for by the leak check)."""
    return spec.role not in (Role.identifier, Role.drop) or bool(spec.steps)


def _scientific_hint(spec: ColumnSpec) -> str:
    lost = "a spreadsheet re-saved the column as numbers, which loses digits"
    if not _released(spec):
        return (f"{lost}; the column is not released: remove pattern for this column (its other values are still "
                "searched for by the leak check), or set role: drop for this column (checked for presence only); "
                "or export it again with the column formatted as text")
    return (f"{lost}: export it again with the column formatted as text; or, to release the mangled values as they "
            "are, set pattern: '.*' for this column (or widen its pattern to accept them)")


def _coerce(name: str, spec: ColumnSpec, values: pd.Series, problems: list[dict]) -> pd.Series:
    """Type one column; unparseable cells are counted as a problem and become missing."""
    present = values.notna()
    if spec.role is Role.drop:
        return values
    if spec.dtype == "str":
        as_str = values.astype("str").where(present)
        if spec.pattern is None and not _released(spec):
            return as_str  # nothing checks its form and none of it is released: lost digits harm nothing
        looks_scientific = as_str.str.match(_SCIENTIFIC).fillna(False).astype(bool) & present
        if spec.pattern is not None and looks_scientific.any():  # a pattern that accepts such values wants them
            looks_scientific[looks_scientific] = ~as_str[looks_scientific].str.fullmatch(spec.pattern).astype(bool)
        if looks_scientific.any():
            problems.append(_problem(name, "text column holds numbers in scientific notation",
                                     looks_scientific.sum(), _scientific_hint(spec)))
            # Counted once, here: blanked so the pattern check does not report the same cells again.
            as_str = as_str.where(~looks_scientific)
        return as_str
    if spec.dtype in ("int", "float"):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & present
        if spec.dtype == "int":
            # Beyond int64 a number cannot be stored (pandas would raise): its own rule, and then missing.
            out_of_range = numbers.notna() & ((numbers >= 2**63) | (numbers < -(2**63)))
            if out_of_range.any():
                problems.append(_problem(name, "out of int64 range", out_of_range.sum()))
            bad |= numbers.notna() & ~out_of_range & (numbers % 1 != 0)
            numbers = numbers.where(~out_of_range)
        if bad.any():
            problems.append(_problem(name, f"dtype {spec.dtype}", bad.sum()))
        return numbers.where(~bad).astype(_DTYPES[spec.dtype])
    if spec.dtype in ("date", "datetime"):
        fmt = spec.date_format or ("%Y-%m-%d" if spec.dtype == "date" else "ISO8601")
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
        bad = parsed.isna() & present
        if bad.any():
            hint = None
            if spec.dtype == "date" and spec.date_format is None:
                dayfirst = pd.to_datetime(values[bad], format="%d/%m/%Y", errors="coerce")
                if dayfirst.notna().all():
                    hint = "the dates look day-first (DD/MM/YYYY): set date_format: '%d/%m/%Y' for this column"
            problems.append(_problem(name, f"dtype {spec.dtype} (format {fmt})", bad.sum(), hint))
        return parsed.astype("datetime64[ns]")
    # bool
    mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    lowered = values.astype("str").str.strip().str.lower().where(present)
    mapped = lowered.map(mapping)
    bad = mapped.isna() & present
    if bad.any():
        problems.append(_problem(name, "dtype bool", bad.sum()))
    return mapped.astype("boolean")


def _column_schema(spec: ColumnSpec) -> pa.Column:
    if spec.role is Role.drop:
        return pa.Column(None, nullable=True, required=True)
    checks = []
    if spec.min is not None or spec.max is not None:
        lo = spec.min if spec.min is not None else float("-inf")
        hi = spec.max if spec.max is not None else float("inf")
        if spec.dtype in ("date", "datetime"):
            raise ValueError("min/max apply to numeric columns")
        checks.append(pa.Check.in_range(lo, hi, error=f"in range [{spec.min}, {spec.max}]"))
    if spec.allowed is not None:
        checks.append(pa.Check.isin(spec.allowed, error=f"one of the {len(spec.allowed)} allowed values"))
    if spec.pattern is not None:
        checks.append(pa.Check.str_matches(spec.pattern, error=f"matches pattern {spec.pattern}"))
    return pa.Column(_DTYPES[spec.dtype], checks=checks, nullable=spec.nullable, unique=spec.unique,
                     coerce=False, required=True)


def raw_schema(policy: Policy) -> pa.DataFrameSchema:
    """The pandera schema of the typed raw table (after ``_coerce``)."""
    return pa.DataFrameSchema({name: _column_schema(spec) for name, spec in policy.columns.items()},
                              strict=True, name=f"{policy.name}.raw")


#: The policy setting that would accept what a rule refused, by the start of the rule's text.
_HINTS = {
    "not null": "set nullable: true for this column if missing values are expected",
    "in range": "widen min/max for this column in the policy if these values are genuine",
    "one of the": "add the values to allowed for this column in the policy if they are genuine",
    "matches pattern": "relax pattern for this column in the policy if these values are genuine",
}


_UNRELEASED_PATTERN_HINT = ("the column is not released: remove pattern for this column if these values are "
                            "genuine (its values are still searched for by the leak check), or set role: drop for "
                            "this column (checked for presence only)")


def summarise_schema_errors(exc: SchemaErrors, policy: Policy | None = None) -> list[dict]:
    """(column, rule, row count) per failed check; pandera's failure-case values are dropped here."""
    cases = exc.failure_cases
    counts: Counter = Counter()
    for column, check, index in zip(cases["column"], cases["check"], cases["index"]):
        counts[(str(column), str(check))] += 1 if index is not None else 0
    problems = []
    for (column, check), n in counts.items():
        rule = "not null" if check == "not_nullable" else check
        hint = next((h for prefix, h in _HINTS.items() if rule.startswith(prefix)), None)
        spec = policy.columns.get(column) if policy is not None else None
        if spec is not None and rule.startswith("matches pattern") and not _released(spec):
            hint = _UNRELEASED_PATTERN_HINT
        if check.startswith("field_uniqueness") or check == "unique":
            rule = "unique"
            if spec is not None:
                hint = "remove unique for this column if repeated values are genuine"
        problems.append(_problem(column, rule, n, hint))
    return problems


_DELIMITERS = (",", ";", "\t", "|")


def _header_problem(present: list[str], declared: list[str], delimiter: str, n_rows: int) -> dict:
    """The header names none of the policy's columns: say why without echoing it, since a file without its
    header row puts its first row of data there."""
    for sep in _DELIMITERS:
        if sep != delimiter and len(present) == 1 and set(str(present[0]).split(sep)) & set(declared):
            return _problem("*", "columns match the policy", n_rows,
                            f"the header is {sep!r}-separated, not {delimiter!r}: set source.delimiter: {sep!r} "
                            "in the policy")
    return _problem("*", "columns match the policy", n_rows,
                    "no name in the header is a column the policy declares: the file may lack its header row "
                    "(its first data row was read as the header) or be another table")


def validate_raw(frame: pd.DataFrame, policy: Policy, file: str | Path) -> pd.DataFrame:
    """Type and check the raw table; returns a typed copy (the input frame is not modified)."""
    declared, present = list(policy.columns), list(frame.columns)
    problems: list[dict] = []
    declared_set, present_set = set(declared), set(present)
    missing = [c for c in declared if c not in present_set]
    extra = [c for c in present if c not in declared_set]
    if not set(present) & set(declared):
        raise RawSchemaError(file, [_header_problem(present, declared, policy.source.delimiter, len(frame))])
    for c in missing:
        problems.append(_problem(c, "column declared by the policy is missing from the input", len(frame)))
    for c in extra[:_LISTED_EXTRA]:
        problems.append(_problem(c, "column is not declared by the policy (declare it, e.g. role: drop)", len(frame)))
    if len(extra) > _LISTED_EXTRA:
        problems.append(_problem("*", f"{len(extra) - _LISTED_EXTRA} more columns not declared by the policy",
                                 len(frame)))
    if len(frame) == 0:
        problems.append(_problem("*", "at least one data row", 0, "the file has a header but no rows"))
    if problems:
        raise RawSchemaError(file, problems)
    typed = pd.DataFrame({name: _coerce(name, spec, frame[name], problems)
                          for name, spec in policy.columns.items()}, index=frame.index)
    # A column declared unique that is unique rules out repeated rows, at a fraction of the cost of comparing rows.
    if policy.source.duplicate_rows == "error" and not any(
            spec.unique and frame[name].is_unique for name, spec in policy.columns.items()):
        dupes = frame.duplicated(keep="first")
        if dupes.any():
            problems.append(_problem("*", "no duplicated rows", dupes.sum(),
                                     "set source.duplicate_rows: allow if repeated rows are expected"))
    try:
        raw_schema(policy).validate(typed, lazy=True)
    except SchemaErrors as exc:
        coerced_away = {p["column"] for p in problems}
        problems.extend(p for p in summarise_schema_errors(exc, policy)
                        if not (p["rule"] == "not null" and p["column"] in coerced_away))
    if problems:
        raise RawSchemaError(file, problems)
    return typed
