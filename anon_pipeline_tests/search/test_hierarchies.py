"""Hierarchy loading, building and coverage validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.errors import InputDataError
from anon_pipeline.hierarchies import EncodedHierarchy, build_hierarchy, dates, groupings, intervals, load_arx_csv, masking


def test_load_arx_csv_keeps_strings(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("01;0-9;*\n10;10-19;*\nNA;NA;*\n", encoding="utf-8")
    frame = load_arx_csv(path)
    assert frame.shape == (3, 3)
    assert frame.iloc[0, 0] == "01" and frame.iloc[2, 0] == "NA"


def test_load_arx_csv_rejects_ragged_rows(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a;x;*\nb;*\n", encoding="utf-8")
    with pytest.raises(ValueError, match="1 row"):
        load_arx_csv(path)


def test_intervals_nest_and_end_with_star():
    h = intervals(pd.Series([5, 15, 25, 35]), [[0, 10, 20, 30, 40], [0, 20, 40]])
    assert h.iloc[:, 1].tolist() == ["[0, 10)", "[10, 20)", "[20, 30)", "[30, 40)"]
    assert h.iloc[:, 2].tolist() == ["[0, 20)", "[0, 20)", "[20, 40)", "[20, 40)"]
    assert set(h.iloc[:, -1]) == {"*"}
    EncodedHierarchy.build("x", h)  # a tree


def test_masking_replaces_trailing_characters():
    h = masking(pd.Series(["13053", "13068"]), [1, 3])
    assert h.values.tolist() == [["13053", "1305*", "13***", "*"], ["13068", "1306*", "13***", "*"]]


def test_dates_day_month_year_decade():
    h = dates(pd.Series(["2021-03-04", "1999-12-31"]))
    assert h.values.tolist()[0] == ["2021-03-04", "2021-03", "2021", "2020s", "*"]


def test_groupings_chain_levels():
    h = groupings(pd.Series(["a", "b", "c"]), [{"a": "ab", "b": "ab", "c": "c"}, {"ab": "all", "c": "all"}])
    assert h.values.tolist() == [["a", "ab", "all", "*"], ["b", "ab", "all", "*"], ["c", "c", "all", "*"]]


def test_reference_postcodes():
    h = build_hierarchy({"reference": "uk_postcode"}, pd.Series(["AB1 0AA", "B79", "ZZ99"]))
    assert h.values.tolist() == [["AB1 0AA", "AB1", "AB", "Scotland", "Scotland", "*"],
                                 ["B79", "B79", "B", "West Midlands", "England", "*"]]  # ZZ99 is uncovered
    EncodedHierarchy.build("postcode", h)


def test_reference_countries():
    h = build_hierarchy({"reference": "country"}, pd.Series(["Germany", "Japan", "Atlantis"]))
    assert h.values.tolist() == [["Germany", "Western Europe", "Europe", "Europe", "*"],
                                 ["Japan", "Eastern Asia", "Asia", "APAC", "*"]]  # Atlantis is uncovered
    EncodedHierarchy.build("country", h)


def test_uncovered_values_name_column_and_count_not_values():
    h = EncodedHierarchy.build("zip", masking(pd.Series(["13053", "13068"]), 2))
    with pytest.raises(InputDataError) as err:
        h.encode(pd.Series(["13053", "99999", "99999", "88888"]))
    message = str(err.value)
    assert "zip" in message and "2 distinct value(s)" in message and "3 row(s)" in message
    assert "99999" not in message and "88888" not in message


def test_non_tree_hierarchy_is_rejected():
    frame = pd.DataFrame([["a", "x", "p", "*"], ["b", "x", "q", "*"]])
    with pytest.raises(ValueError, match="tree"):
        EncodedHierarchy.build("c", frame)


def test_encoding_integer_columns_matches_string_hierarchy():
    h = EncodedHierarchy.build("age", intervals(pd.Series([17, 30]), [[0, 20, 40]]))
    codes = h.encode(pd.Series([30.0, 17.0, 30.0]))
    assert h.generalise(codes, 1).tolist() == ["[20, 40)", "[0, 20)", "[20, 40)"]
    assert np.isclose(h.shares[1].sum(), 1.0)


# ---- vectorised encoding keeps the per-value definition -----------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from anon_pipeline.hierarchies.encoded import as_hierarchy_strings  # noqa: E402


def _per_value(values) -> list:
    """The definition: integral float columns as integers, missing as None, every other value as str()."""
    values = pd.Series(values)
    if pd.api.types.is_float_dtype(values.dtype) and len(values.dropna()) and \
            bool((values.dropna() == np.floor(values.dropna())).all()):
        values = values.astype("Int64")
    return [None if pd.isna(v) else str(v) for v in values.astype(object)]


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    st.lists(st.one_of(st.floats(-1e15, 1e15, allow_nan=False), st.just(float("nan")), st.none()), max_size=30),
    st.lists(st.one_of(st.text(max_size=5), st.none()), max_size=30),
    st.lists(st.integers(-10**12, 10**12), max_size=30),
    st.lists(st.one_of(st.integers(-99, 99), st.text(max_size=3), st.booleans(), st.none()), max_size=30)))
def test_as_hierarchy_strings_matches_the_per_value_definition(values):
    series = pd.Series(values, dtype=object if values and not all(isinstance(v, float) or v is None
                                                                   for v in values) else None)
    assert list(as_hierarchy_strings(series)) == _per_value(series)


def test_hierarchy_cells_are_encoded_as_their_text():
    frame = pd.DataFrame({0: [1, 2, 3], 1: ["low", "low", None], 2: ["*", "*", "*"]}, dtype=object)
    h = EncodedHierarchy.build("x", frame)
    assert [list(lab) for lab in h.labels] == [["1", "2", "3"], ["low", "None"], ["*"]]
    assert list(h.encode(pd.Series([3.0, 1.0, 1.0]))) == [2, 0, 0]
