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
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from anon_pipeline.errors import RawSchemaError
from anon_pipeline.policy.model import ColumnSpec, Policy, Role
from anon_pipeline.stats.hashing import (UniqueTracker, arrow_column, hash_rows, is_text, mostly_distinct,
                                         string_bytes)

_DTYPES = {"str": "str", "int": "Int64", "float": "Float64", "date": "datetime64[ns]",
           "datetime": "datetime64[ns]", "bool": "boolean"}
_SCIENTIFIC = r"^[+-]?\d(\.\d+)?[eE][+-]?\d+$"
#: Undeclared columns listed one by one in an error; beyond that they are counted.
_LISTED_EXTRA = 20


def _problem(column: str, rule: str, n_rows: int, hint: str | None = None, first: int | None = None) -> dict:
    """A broken rule: its column, how many rows break it, a hint and, for a rule of single cells, ``first_row``:
    where in the batch the first breaking row is (0-based; ``RawValidation`` makes it the file's data row, from
    1). A row number is no data value: it is how the engineer finds the cell."""
    return {"column": column, "rule": rule, "n_rows": int(n_rows), "hint": hint,
            "first_row": None if first is None else int(first)}


def _first(mask: pd.Series) -> int:
    """Position of the first True of ``mask``."""
    return int(np.argmax(mask.to_numpy(dtype=bool)))


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
        looks_scientific = _looks_scientific(as_str)
        if spec.pattern is not None and looks_scientific.any():  # a pattern that accepts such values wants them
            looks_scientific[looks_scientific] = ~as_str[looks_scientific].str.fullmatch(spec.pattern).astype(bool)
        if looks_scientific.any():
            problems.append(_problem(name, "text column holds numbers in scientific notation",
                                     looks_scientific.sum(), _scientific_hint(spec), _first(looks_scientific)))
            # Counted once, here: blanked so the pattern check does not report the same cells again.
            as_str = as_str.where(~looks_scientific)
        return as_str
    if spec.dtype in ("int", "float"):
        numbers = per_value(values, lambda v: pd.to_numeric(v, errors="coerce"))
        bad = numbers.isna() & present
        if spec.dtype == "int":
            # Beyond int64 a number cannot be stored (pandas would raise): its own rule, and then missing.
            out_of_range = numbers.notna() & ((numbers >= 2**63) | (numbers < -(2**63)))
            if out_of_range.any():
                problems.append(_problem(name, "out of int64 range", out_of_range.sum(), first=_first(out_of_range)))
            bad |= numbers.notna() & ~out_of_range & (numbers % 1 != 0)
            numbers = numbers.where(~out_of_range)
        if bad.any():
            problems.append(_problem(name, f"dtype {spec.dtype}", bad.sum(), first=_first(bad)))
        return numbers.where(~bad).astype(_DTYPES[spec.dtype])
    if spec.dtype in ("date", "datetime"):
        fmt = spec.date_format or ("%Y-%m-%d" if spec.dtype == "date" else "ISO8601")
        parsed = per_value(values, lambda v: pd.to_datetime(v, format=fmt, errors="coerce"))
        bad = parsed.isna() & present
        if bad.any():
            hint = None
            if spec.dtype == "date" and spec.date_format is None:
                dayfirst = pd.to_datetime(values[bad], format="%d/%m/%Y", errors="coerce")
                if dayfirst.notna().all():
                    hint = "the dates look day-first (DD/MM/YYYY): set date_format: '%d/%m/%Y' for this column"
            problems.append(_problem(name, f"dtype {spec.dtype} (format {fmt})", bad.sum(), hint, _first(bad)))
        return parsed.astype("datetime64[ns]")
    # bool
    mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    lowered = values.astype("str").str.strip().str.lower().where(present)
    mapped = lowered.map(mapping)
    bad = mapped.isna() & present
    if bad.any():
        problems.append(_problem(name, "dtype bool", bad.sum(), first=_first(bad)))
    return mapped.astype("boolean")


def _column_schema(spec: ColumnSpec, unique: bool = True) -> pa.Column:
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
        # pandera's str_matches, run once per distinct value.
        checks.append(pa.Check(_matches(spec.pattern), error=f"matches pattern {spec.pattern}"))
    return pa.Column(_DTYPES[spec.dtype], checks=checks, nullable=spec.nullable, unique=spec.unique and unique,
                     coerce=False, required=True)


def _matches(pattern: str) -> Callable[[pd.Series], pd.Series]:
    return lambda values: pd.Series(text_rule(values, lambda v: v.str.match(pattern)), index=values.index)


def text_rule(values: pd.Series, rule: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``rule`` (a vectorised test of text values) per row, False where missing, computed once per distinct
    value (``per_value``): a postcode or phone column repeats each value many times, and regexes are the costly
    part."""
    return per_value(values, rule).fillna(False).astype(bool).to_numpy()


def per_value(values: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``parse`` (vectorised, value by value, missing to missing) of a text column, computed once per distinct
    value and spread back to the rows (index kept): a date or number column of a CSV repeats its values."""
    try:
        arr = arrow_column(values)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):  # Python objects of mixed types
        return parse(values)
    if not is_text(arr.type) or mostly_distinct(arr.drop_null()):
        return parse(values)
    encoded = pc.dictionary_encode(arr)
    distinct = encoded.dictionary
    if arr.null_count:  # parsed with the values, as the type pandas infers depends on whether one is missing
        distinct = pyarrow.concat_arrays([distinct, pyarrow.nulls(1, distinct.type)])
    parsed = parse(pd.Series(distinct, dtype=values.dtype))
    codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return parsed.take(codes).set_axis(values.index)


def _looks_scientific(values: pd.Series) -> pd.Series:
    """Text cells that hold a number in scientific notation (``_SCIENTIFIC``). The regex runs only on cells that
    could match: at least 3 bytes starting with a sign or a digit (ASCII, or a byte of a non-ASCII character, which
    may be another script's digit), in a column that holds an "e" or "E" somewhere."""
    arr = arrow_column(values)
    if not is_text(arr.type):
        return pd.Series(text_rule(values, lambda v: v.str.match(_SCIENTIFIC)), index=values.index)
    found = np.zeros(len(values), dtype=bool)
    offsets, data = string_bytes(arr)
    if not len(data):
        return pd.Series(found, index=values.index)
    # Cheapest test first: most text columns fail on the first byte; numbers without an "e" on the next one.
    maybe = _SCIENTIFIC_FIRST[np.take(data, offsets[:-1], mode="clip")]
    if arr.null_count:
        maybe &= arr.is_valid().to_numpy(zero_copy_only=False)
    text = data.tobytes() if maybe.any() else b""
    if not (b"e" in text or b"E" in text):
        return pd.Series(found, index=values.index)
    maybe &= np.diff(offsets) >= 3  # (also rules out an empty cell, whose "first byte" above is another's)
    if maybe.any():
        found[maybe] = text_rule(values[maybe], lambda v: v.str.match(_SCIENTIFIC))
    return pd.Series(found, index=values.index)


#: The first bytes a cell in scientific notation can start with: a sign, an ASCII digit or (another script's
#: digit) the first byte of a non-ASCII character.
_SCIENTIFIC_FIRST = np.zeros(256, dtype=bool)
_SCIENTIFIC_FIRST[list(b"+-0123456789")] = True
_SCIENTIFIC_FIRST[0x80:] = True


def raw_schema(policy: Policy, unique: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of the typed raw table (after ``_coerce``); with ``unique=False`` without the
    ``unique`` rules, which ``RawValidation`` checks by hashing, across batches."""
    return pa.DataFrameSchema({name: _column_schema(spec, unique) for name, spec in policy.columns.items()},
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


def summarise_schema_errors(exc: SchemaErrors, policy: Policy | None = None,
                            rows: pd.Index | None = None) -> list[dict]:
    """(column, rule, row count) per failed check, and with ``rows`` (the validated frame's index) where the first
    failing row is; pandera's failure-case values are dropped here."""
    cases = exc.failure_cases
    counts: Counter = Counter()
    first: dict[tuple[str, str], int] = {}
    at = np.full(len(cases), -1)
    if rows is not None:
        located = cases["index"].notna().to_numpy()
        at[located] = rows.get_indexer(cases["index"][located])
    for column, check, index, position in zip(cases["column"], cases["check"], cases["index"], at):
        key = (str(column), str(check))
        counts[key] += 1 if index is not None else 0
        if position >= 0:
            first[key] = min(first.get(key, position), position)
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
                hint = _UNIQUE_HINT
        problems.append(_problem(column, rule, n, hint, None if rule == "unique" else first.get((column, check))))
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
    validation = RawValidation(policy, file, whole_file=True)
    typed = validation.add(frame)
    validation.finish()
    return typed


def _structure_problems(frame: pd.DataFrame, policy: Policy) -> list[dict]:
    """Columns missing or not declared (``n_rows``: the rows of ``frame``; ``whole_file``: a rule of the file)."""
    declared, present = list(policy.columns), list(frame.columns)
    declared_set, present_set = set(declared), set(present)
    if not present_set & declared_set:
        return [{**_header_problem(present, declared, policy.source.delimiter, len(frame)), "whole_file": True}]
    problems = [_problem(c, "column declared by the policy is missing from the input", len(frame))
                for c in declared if c not in present_set]
    extra = [c for c in present if c not in declared_set]
    for c in extra[:_LISTED_EXTRA]:
        problems.append(_problem(c, "column is not declared by the policy (declare it, e.g. role: drop)", len(frame)))
    if len(extra) > _LISTED_EXTRA:
        problems.append(_problem("*", f"{len(extra) - _LISTED_EXTRA} more columns not declared by the policy",
                                 len(frame)))
    return [{**p, "whole_file": True} for p in problems]


_UNIQUE_HINT = "remove unique for this column if repeated values are genuine"
_REPEATED_ROWS = ("no duplicated rows", "set source.duplicate_rows: allow if repeated rows are expected")


class RawValidation:
    """``validate_raw`` over a file read in batches (a batch is any slice of its rows, in any size).

    ``add`` types and checks one batch and returns it typed (None when the file's columns are wrong); problems
    are counted, not raised. ``finish`` raises one ``RawSchemaError`` whose row counts are those of every batch
    added, summed per (column, rule). Rules that span rows hold across batches: ``unique`` (values hashed,
    ``UniqueTracker``: 8 bytes per distinct value), no repeated rows (rows hashed, when
    ``source.duplicate_rows: error``) and at least one data row. With ``whole_file`` (one batch that is the
    whole file) repeated rows are compared directly, and only when no ``unique`` column rules them out.

    ``reread`` (the same batches again, from the file) lets the batches skip hashing rows where a ``unique``
    column may rule repeated rows out: two equal rows hold equal values in it, so a column declared unique that
    ends up with no missing and no repeated value proves there are none. Only when none does are the rows
    hashed, in a second pass at the end (the file is then broken anyway, and the count stays exact)."""

    def __init__(self, policy: Policy, file: str | Path, whole_file: bool = False,
                 reread: Callable[[], Iterable[pd.DataFrame]] | None = None) -> None:
        self.policy, self.file, self.whole_file = policy, file, whole_file
        self.rows = 0
        self.unique = {name: UniqueTracker() for name, spec in policy.columns.items()
                       if spec.unique and spec.role is not Role.drop}
        #: Per ``unique`` column, whether every value added so far was present (not missing, nor made missing).
        self._complete = dict.fromkeys(self.unique, True)
        self._rows = None if whole_file or policy.source.duplicate_rows != "error" else UniqueTracker()
        self._reread = reread if self._rows is not None and self.unique else None
        self._repeated_rows = 0
        self._schema = raw_schema(policy, unique=False)
        self._problems: dict[tuple[str, str], dict] = {}
        #: "header" (no column matches the policy), "columns" (some missing or undeclared) or None.
        self._structure: str | None = None

    def add(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        self.rows += len(frame)
        structure = _structure_problems(frame, self.policy)
        if structure:
            self._structure = "header" if structure[0]["rule"] == "columns match the policy" else "columns"
            self._count(structure)
            return None
        problems: list[dict] = []
        typed = pd.DataFrame({name: _coerce(name, spec, frame[name], problems)
                              for name, spec in self.policy.columns.items()}, index=frame.index)
        for name, tracker in self.unique.items():
            tracker.add(typed[name])
            self._complete[name] = self._complete[name] and not typed[name].isna().any()
        if self._rows is not None and self._reread is None:
            self._rows.add_hashes(hash_rows(frame))
        elif self.whole_file and self.policy.source.duplicate_rows == "error" and not any(
                tracker.duplicates == 0 and typed[name].notna().all() for name, tracker in self.unique.items()):
            # A column declared unique that is unique rules out repeated rows, at a fraction of the cost.
            self._repeated_rows += int(frame.duplicated(keep="first").sum())
        try:
            self._schema.validate(typed, lazy=True)
        except SchemaErrors as exc:
            coerced_away = {p["column"] for p in problems}
            problems.extend(p for p in summarise_schema_errors(exc, self.policy, typed.index)
                            if not (p["rule"] == "not null" and p["column"] in coerced_away))
        before = self.rows - len(frame)
        self._count([{**p, "first_row": before + p["first_row"] + 1} if p.get("first_row") is not None else p
                     for p in problems])
        return typed

    @property
    def broken(self) -> bool:
        """Whether a batch added so far broke a rule of its own (the rules that span rows are known at the end)."""
        return bool(self._problems) or self._structure is not None

    def _count(self, problems: list[dict]) -> None:
        for p in problems:
            key = (p["column"], p["rule"])
            if key in self._problems:  # the first row stays the earlier batch's
                self._problems[key]["n_rows"] += p["n_rows"]
            else:
                self._problems[key] = dict(p)

    def problems(self) -> list[dict]:
        """Every problem of the batches added so far, in the order first found, then the rules that span rows.
        Wrong columns are reported alone (with no data row, if none)."""
        problems = list(self._problems.values())
        if self._structure == "header":
            return problems
        if self.rows == 0:
            problems.append(_problem("*", "at least one data row", 0, "the file has a header but no rows"))
        if self._structure:
            return problems
        for name, tracker in self.unique.items():
            if tracker.duplicates:
                problems.append(_problem(name, "unique", tracker.duplicates, _UNIQUE_HINT))
        repeated = self._repeated() if self._rows is not None else self._repeated_rows
        if repeated:
            problems.append(_problem("*", _REPEATED_ROWS[0], repeated, _REPEATED_ROWS[1]))
        return problems

    def _repeated(self) -> int:
        """Rows equal to an earlier row, by their hashes (hashed now, from ``reread``, if ``add`` skipped them)."""
        assert self._rows is not None
        if self._reread is not None:
            if any(self._complete[name] and not tracker.duplicates for name, tracker in self.unique.items()):
                return 0
            for frame in self._reread():
                self._rows.add_hashes(hash_rows(frame))
            self._reread = None
        return self._rows.repeats

    def finish(self) -> None:
        """Raise the problems of every batch added, if any."""
        problems = self.problems()
        if problems:
            raise RawSchemaError(self.file, problems)
