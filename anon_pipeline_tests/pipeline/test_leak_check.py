"""The no_identifier_leak check on small hand-made tables."""

import pandas as pd

from anon_pipeline.pipeline.checks import check_no_identifier_leak
from anon_pipeline.policy import parse_policy

POLICY = parse_policy({
    "name": "t", "seed": 1,
    "columns": {"name": {"role": "identifier"}, "country": {"role": "quasi_identifier"},
                "note": {"role": "insensitive"}},
})
RAW = pd.DataFrame({"name": ["Jordan", "Ada", "Grace"], "country": ["Jordan", "France", "Peru"],
                    "note": ["x", "y", "z"]})


def test_identifier_copied_into_another_column_is_a_leak():
    anonymised = pd.DataFrame({"guid": ["a", "b", "c"], "country": ["Jordan", "France", "Peru"],
                               "note": ["x", "Ada", "z"]})
    outcome = check_no_identifier_leak(RAW, anonymised, POLICY)
    assert not outcome.passed
    assert outcome.metadata["leaked_cells"] == 1 and outcome.metadata["columns"] == ["note"]
    assert "Ada" not in outcome.description


def test_value_that_is_also_the_columns_own_data_is_not_a_leak():
    anonymised = pd.DataFrame({"guid": ["a", "b", "c"], "country": ["Jordan", "France", "Peru"],
                               "note": ["x", "y", "z"]})
    outcome = check_no_identifier_leak(RAW, anonymised, POLICY)
    assert outcome.passed and outcome.metadata["values_shared_with_their_own_column"] == 1


def test_the_shared_value_still_counts_in_a_column_it_does_not_belong_to():
    anonymised = pd.DataFrame({"guid": ["a", "b", "c"], "country": ["France", "France", "Peru"],
                               "note": ["Jordan", "y", "z"]})
    assert not check_no_identifier_leak(RAW, anonymised, POLICY).passed
