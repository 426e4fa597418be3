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
