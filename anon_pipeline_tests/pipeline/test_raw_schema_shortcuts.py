"""validate_raw's shortcuts (pattern only on cells that look scientific; no row comparison when a unique column
is unique) report exactly what the full checks report."""

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from anon_pipeline.errors import RawSchemaError
from anon_pipeline.pipeline.raw_schema import _SCIENTIFIC, _looks_scientific, per_value, validate_raw
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import variant


def _raw(rows: int = 40) -> pd.DataFrame:
    return generate("insurance_customers", rows, 5).astype("str")


def _problems(frame: pd.DataFrame, policy) -> dict[tuple[str, str], int]:
    with pytest.raises(RawSchemaError) as caught:
        validate_raw(frame, policy, "in.csv")
    return {(p["column"], p["rule"]): p["n_rows"] for p in caught.value.problems}


def test_a_pattern_that_accepts_scientific_text_wants_it(tmp_path):
    policy = load_policy(variant(tmp_path, columns__phone_number={"role": "identifier", "pattern": "^[0-9.e+() ]+$"}))
    frame = _raw()
    frame.loc[:2, "phone_number"] = ["7.7009e+09", "7.7010e+09", "7.7011E+09"]   # the last breaks the pattern
    assert _problems(frame, policy) == {("phone_number", "text column holds numbers in scientific notation"): 1}
    frame.loc[2, "phone_number"] = "7.7011e+09"
    assert len(validate_raw(frame, policy, "in.csv")) == len(frame)


def test_repeated_rows_found_whether_or_not_a_unique_column_is_unique(tmp_path):
    policy = load_policy(variant(tmp_path))
    frame = _raw()
    repeated = pd.concat([frame, frame.iloc[:3]], ignore_index=True)
    problems = _problems(repeated, policy)
    assert problems[("*", "no duplicated rows")] == 3
    assert problems[("national_insurance_number", "unique")] == 6
    # Same rows but for the unique column: no repeated rows, nothing to report.
    repeated.loc[len(frame):, "national_insurance_number"] = ["AB 12 34 56 C", "AB 12 34 57 C", "AB 12 34 58 C"]
    assert len(validate_raw(repeated, policy, "in.csv")) == len(frame) + 3


#: Cells that match (any script's digits) and cells that nearly do.
_SCIENTIFIC_LIKE = st.one_of(st.from_regex(_SCIENTIFIC, fullmatch=True), st.text(alphabet="+-.eE 0123456789x١٢é\n",
                                                                                max_size=8))


@given(st.lists(st.one_of(st.none(), _SCIENTIFIC_LIKE), max_size=80), st.integers(0, 5))
def test_scientific_cells_are_found_as_the_regex_finds_them(values, skip):
    # Only cells that could match are tested (a sign or digit first, 3 bytes or more, an "e" in the column):
    # the same cells as the regex on every cell, Unicode digits included, in a slice of a column too.
    column = pd.Series(values, dtype="str").iloc[skip:]
    expected = column.str.match(_SCIENTIFIC).fillna(False).astype(bool)
    assert (_looks_scientific(column).to_numpy() == expected.to_numpy()).all()


@given(st.lists(st.one_of(st.none(), st.sampled_from(["1", "2", "-3", "1.5", "x", "", "2020-02-30", "2021-01-31",
                                                         "9007199254740993", "1e3"])), max_size=80))
def test_values_parsed_once_per_distinct_value_as_every_cell_would_be(values):
    for dtype in ("str", object):
        column = pd.Series(values, dtype=dtype, index=range(5, 5 + len(values)))
        for parse in (lambda v: pd.to_numeric(v, errors="coerce"),
                      lambda v: pd.to_datetime(v, format="%Y-%m-%d", errors="coerce")):
            pd.testing.assert_series_equal(per_value(column, parse), parse(column))
    mixed = pd.Series([1, "2", 3.5, None] * 20, dtype=object)  # no Arrow type holds it: parsed cell by cell
    pd.testing.assert_series_equal(per_value(mixed, pd.to_numeric), pd.to_numeric(mixed))
