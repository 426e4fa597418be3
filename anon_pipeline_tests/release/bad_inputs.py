"""A corpus of broken input files, made from the bundled seeded insurance sample, each with what its error
must say: the column, a piece of the rule, how many rows break it, and the policy setting that would accept it.

Shared by the pure pipeline test and the CLI / Dagster tests, so every entry point sees the same corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from anon_pipeline.sample import generate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLICY = PROJECT_ROOT / "policies" / "insurance_customers.yaml"
ROWS = 200
IDENTIFIERS = ("given_name", "surname", "phone_number", "national_insurance_number", "bank_account_number")
#: Quasi-identifier columns whose values are distinctive enough to search for in messages and logs.
DISTINCT_QIS = ("birthdate", "postcode")


def clean_table(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    """The sample as a CSV reader sees it: every cell a string."""
    buf = generate("insurance_customers", rows, seed).to_csv(index=False)
    from io import StringIO

    return pd.read_csv(StringIO(buf), dtype="str", keep_default_na=False)


@dataclass(frozen=True)
class BadInput:
    name: str
    make: Callable[[pd.DataFrame, Path], None]   # (clean table, path) -> writes the broken file
    column: str | None                           # the column the error must name (None: file-level)
    rule: str                                    # a piece of the rule's text
    n_rows: int | None                           # the row count the error must give (None: no row count)
    hint: str | None                             # a piece of the policy setting that would accept it


def _csv(frame: pd.DataFrame, path: Path, **kwargs) -> None:
    frame.to_csv(path, index=False, **kwargs)


def _wrong_delimiter(t, p):
    _csv(t, p, sep=";")


def _missing_column(t, p):
    _csv(t.drop(columns=["postcode"]), p)


def _extra_column(t, p):
    _csv(t.assign(email=[f"person{i}@example.org" for i in range(len(t))]), p)


def _no_header(t, p):
    _csv(t, p, header=False)


def _duplicate_column(t, p):
    text = t.to_csv(index=False)
    header, body = text.split("\n", 1)
    p.write_text(header.replace("weight", "height", 1) + "\n" + body)


def _day_first_dates(t, p):
    _csv(t.assign(birthdate=pd.to_datetime(t["birthdate"]).dt.strftime("%d/%m/%Y")), p)


def _scientific_phones(t, p):
    t = t.copy()
    t.loc[:6, "phone_number"] = [f"{7.70090 + i / 1e5:.4e}" for i in range(7)]   # a spreadsheet's "7.7009e+09"
    _csv(t, p)


def _empty(t, p):
    p.write_bytes(b"")


def _header_only(t, p):
    _csv(t.iloc[:0], p)


def _not_utf8(t, p):
    t = t.copy()
    t.loc[:2, "surname"] = ["Müller", "Núñez", "Gómez"]
    _csv(t, p, encoding="latin-1")


def _missing_qi(t, p):
    t = t.copy()
    t.loc[:4, "gender"] = ""
    _csv(t, p)


def _out_of_range(t, p):
    t = t.copy()
    t.loc[:2, "weight"] = ["250.0", "12.5", "180.0"]
    _csv(t, p)


def _duplicated_rows(t, p):
    _csv(pd.concat([t, t.iloc[:4]], ignore_index=True), p)


CORPUS = [
    BadInput("wrong_delimiter", _wrong_delimiter, None, "columns match the policy", ROWS, "source.delimiter"),
    BadInput("missing_column", _missing_column, "postcode", "missing", ROWS, None),
    BadInput("no_header_row", _no_header, None, "columns match the policy", ROWS - 1, "lack its header row"),
    BadInput("extra_column", _extra_column, "email", "not declared", ROWS, "role: drop"),
    BadInput("duplicate_column_names", _duplicate_column, "height", "unique column names", None, None),
    BadInput("day_first_dates", _day_first_dates, "birthdate", "date", ROWS, "date_format: '%d/%m/%Y'"),
    BadInput("scientific_notation_phones", _scientific_phones, "phone_number", "scientific notation", 7,
             "as text"),
    BadInput("empty_file", _empty, None, "empty", 0, None),
    BadInput("header_only", _header_only, None, "at least one data row", 0, None),
    BadInput("not_utf8", _not_utf8, "surname", "utf-8", 3, "source.encoding"),
    BadInput("missing_qi_values", _missing_qi, "gender", "not null", 5, "nullable: true"),
    BadInput("out_of_range", _out_of_range, "weight", "in range", 3, "min"),
    BadInput("duplicated_rows", _duplicated_rows, "*", "duplicated rows", 4, "duplicate_rows: allow"),
]


def sensitive_values(table: pd.DataFrame) -> set[str]:
    """Identifier values and distinctive quasi-identifier values of the input: none may appear outside a release."""
    values: set[str] = set()
    for column in (*IDENTIFIERS, *DISTINCT_QIS):
        values.update(v.strip() for v in table[column] if len(v.strip()) >= 4)
    return values
