"""A spreadsheet-mangled copy of the customer file releases after exactly the policy edits its errors suggest.

The copy has day-first dates and international phone numbers in scientific notation ("4.47E+11"), as a
spreadsheet re-saving the CSV makes them. The test knows nothing but the error hints: it reads each hint's
``set <field>: <value> for this column`` / ``remove <field> for this column``, applies it to a copy of the
policy, and runs again until the run releases.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from anon_pipeline import run_policy
from anon_pipeline.errors import RawSchemaError
from anon_pipeline_tests.conftest import shared_path
from anon_pipeline_tests.pipeline.policies import BUNDLED

EDIT = re.compile(r"\b(?:set (?P<field>[\w.]+): (?P<value>'[^']*'|[^\s,;]+)|remove (?P<removed>\w+)) for this column")


def mangle(path) -> pd.DataFrame:
    table = pd.read_csv(shared_path("data", "insurance", "customer_information.csv"), dtype="str",
                        keep_default_na=False)
    table["birthdate"] = pd.to_datetime(table["birthdate"]).dt.strftime("%d/%m/%Y")
    international = table["phone_number"].str.fullmatch(r"\+\d+")
    table.loc[international, "phone_number"] = [f"{float(v):.2E}" for v in table.loc[international, "phone_number"]]
    table.to_csv(path, index=False)
    return table


def suggested_edits(error: RawSchemaError, choice: int) -> list[tuple[str, str, object]]:
    """(column, field, value or None for a removal): the ``choice``-th setting each hint names."""
    edits = []
    for problem in error.problems:
        found = list(EDIT.finditer(problem.get("hint") or ""))
        assert found, f"no policy setting in the hint for column {problem['column']}, rule {problem['rule']}"
        m = found[choice] if choice < len(found) else found[-1]
        if m["removed"]:
            edits.append((problem["column"], m["removed"], None))
        else:
            edits.append((problem["column"], m["field"], yaml.safe_load(m["value"])))
    return edits


@pytest.mark.parametrize("choice", [0, 1], ids=["first_suggestion", "second_suggestion"])
def test_mangled_export_releases_after_the_edits_its_hints_suggest(tmp_path, choice):
    source = tmp_path / "customer_information_resaved.csv"
    table = mangle(source)
    assert table["phone_number"].str.fullmatch(r"\d\.\d\dE\+\d+").sum() == 82
    policy = yaml.safe_load(BUNDLED.read_text())
    policy_path = tmp_path / "policy.yaml"
    applied = []
    for _attempt in range(3):
        policy_path.write_text(yaml.safe_dump(policy, sort_keys=False))
        try:
            result = run_policy(policy_path, source=source, workdir=tmp_path / "work")
            break
        except RawSchemaError as error:
            edits = suggested_edits(error, choice)
        for column, field, value in edits:
            spec = policy["columns"][column]
            if value is None:
                spec.pop(field)
            else:
                spec[field] = value
            applied.append((column, field, value))
    else:
        pytest.fail(f"still refused after applying {applied}")
    assert result.released and result.anonymity["K"] == 15
    assert ("birthdate", "date_format", "%d/%m/%Y") in applied
    phone_edit = ("phone_number", "pattern", None) if choice == 0 else ("phone_number", "role", "drop")
    assert phone_edit in applied and len(applied) == 2, applied


def test_a_dropped_column_is_checked_for_presence_only(tmp_path):
    from anon_pipeline.pipeline.raw_schema import validate_raw
    from anon_pipeline.policy import load_policy
    from anon_pipeline.sample import generate
    from anon_pipeline_tests.pipeline.policies import variant

    strict_drop = {"role": "drop", "dtype": "int", "pattern": "^X$", "min": 0, "max": 1, "unique": True}
    policy = load_policy(variant(tmp_path, columns__current_country=strict_drop))
    table = generate("insurance_customers", 50, 3).astype("str")
    table.loc[:4, "current_country"] = [None, "1.2E+5", "", "United Kingdom", "United Kingdom"]
    typed = validate_raw(table, policy, "in.csv")
    assert typed["current_country"].equals(table["current_country"])
    with pytest.raises(RawSchemaError) as err:
        validate_raw(table.drop(columns=["current_country"]), policy, "in.csv")
    assert [(p["column"], p["n_rows"]) for p in err.value.problems] == [("current_country", 50)]


def test_scientific_notation_in_a_released_column_names_a_setting_that_accepts_it(tmp_path):
    from anon_pipeline.pipeline.raw_schema import validate_raw
    from anon_pipeline.policy import load_policy
    from anon_pipeline.sample import generate
    from anon_pipeline_tests.pipeline.policies import variant

    table = generate("insurance_customers", 40, 4).astype("str")
    table.loc[:2, "blood_group"] = ["1.2E+5", "3.4E+5", "5.6E+5"]
    kept_as_text = {"role": "insensitive"}  # released as it is, no allowed set and no pattern
    policy = load_policy(variant(tmp_path, columns__blood_group=kept_as_text))
    with pytest.raises(RawSchemaError) as err:
        validate_raw(table, policy, "in.csv")
    (column, field, value), = suggested_edits(err.value, 0)
    assert (column, field) == ("blood_group", "pattern")
    accepted = load_policy(variant(tmp_path, "p2.yaml", columns__blood_group={**kept_as_text, field: value}))
    assert validate_raw(table, accepted, "in.csv")["blood_group"].iloc[0] == "1.2E+5"
