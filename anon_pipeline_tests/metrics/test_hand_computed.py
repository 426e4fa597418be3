"""Every measure on small tables whose values were worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.metrics import k_anonymity, measure


@pytest.fixture
def three_classes() -> pd.DataFrame:
    # Classes X = (1, "x"), Y = (1, "y"), Z = (2, "x") of sizes 3, 4, 3. Sensitive s: X = A A B, Y = A B C C,
    # Z = B C C, so over the table p(A, B, C) = (.3, .3, .4). n is s re-coded as 10 / 20 / 30 (numeric).
    rows = [(1, "x", "A"), (1, "x", "A"), (1, "x", "B"),
            (1, "y", "A"), (1, "y", "B"), (1, "y", "C"), (1, "y", "C"),
            (2, "x", "B"), (2, "x", "C"), (2, "x", "C")]
    df = pd.DataFrame(rows, columns=["a", "b", "s"])
    df["n"] = df["s"].map({"A": 10, "B": 20, "C": 30})
    return df


def test_k_anonymity_and_document_c_classes(three_classes):
    m = measure(three_classes, ["a", "b"], k=4)
    assert m["k_anonymity"] == 3 and m["n_classes"] == 3 and m["k_percent"] == pytest.approx(30.0)
    assert m["class_size_distribution"] == {3: 2, 4: 1}
    assert m["rows_below_k"] == 6 and m["classes_below_k"] == 2
    assert m["category"] == "partially allows de-anonymisation (K > 1)"
    assert measure(three_classes, ["a", "b", "s"])["category"] == "allows identification (K = 1)"
    assert measure(three_classes, [])["category"] == "not de-anonymisable (k = 100 %)"


def test_l_diversity_variants(three_classes):
    m = measure(three_classes, ["a", "b"], ["s"])
    assert m["l_diversity"] == 2  # X and Z hold two distinct values, Y three
    # X and Z: H = -(2/3 ln 2/3 + 1/3 ln 1/3) = ln 3 - 2/3 ln 2; exp(H) = 3 / 2^(2/3) = 1.8899
    assert m["entropy_l_diversity_exact"] == pytest.approx(3 / 2 ** (2 / 3), rel=1e-12)
    assert m["entropy_l_diversity"] == 1
    # Most frequent first: X (2, 1) -> floor(2/1 + 1) = 3; Y (2, 1, 1) -> floor(2/2 + 1) = 2; Z as X.
    assert m["recursive_c_l_diversity"] == (3, 2)
    # pycanon's ranking, rarest first: X (1, 2) -> floor(1/2 + 1) = 1; Y (1, 1, 2) -> floor(1/3 + 1) = 1.
    assert m["recursive_c_l_diversity_pycanon"] == (1, 2)


def test_t_closeness_equal_and_ordered_distance(three_classes):
    m = measure(three_classes, ["a", "b"], ["s", "n"])
    # Equal distance, X: 0.5 (|2/3 - .3| + |1/3 - .3| + |0 - .4|) = 0.4; Y: 0.1; Z: 0.3.
    assert m["per_attribute"]["s"]["t_closeness"] == pytest.approx(0.4, rel=1e-12)
    assert m["per_attribute"]["s"]["t_distance"] == "equal"
    # Ordered distance over 10 < 20 < 30, P = (.3, .6, 1): X has Q = (2/3, 1, 1):
    # (|2/3 - .3| + |1 - .6| + 0) / 2 = 23/60; Y: (.05 + .1) / 2; Z: Q = (0, 1/3, 1): (.3 + 4/15) / 2 = 17/60.
    assert m["per_attribute"]["n"]["t_closeness"] == pytest.approx(23 / 60, rel=1e-12)
    assert m["per_attribute"]["n"]["t_distance"] == "ordered"
    assert m["t_closeness"] == pytest.approx(0.4, rel=1e-12)  # max over attributes


def test_ordinal_order_and_distance_override(three_classes):
    # Declaring s ordinal in the order A < B < C gives the ordered distance of n.
    m = measure(three_classes, ["a", "b"], ["s"], ordinal={"s": ["A", "B", "C"]})
    assert m["t_closeness"] == pytest.approx(23 / 60, rel=1e-12)
    # Reversed order C < B < A: X has Q = (0, 1/3, 1) against P = (.4, .7, 1): (.4 + 11/30) / 2 = 23/60 too,
    # Z has Q = (2/3, 1, 1): (4/15 + .3) / 2 = 17/60; Y: Q = (.5, .75, 1): (.1 + .05) / 2.
    m = measure(three_classes, ["a", "b"], ["s"], ordinal={"s": ["C", "B", "A"]})
    assert m["t_closeness"] == pytest.approx(23 / 60, rel=1e-12)
    m = measure(three_classes, ["a", "b"], ["n"], t_distance={"n": "equal"})
    assert m["t_closeness"] == pytest.approx(0.4, rel=1e-12)
    with pytest.raises(ValueError, match="4 row"):
        measure(three_classes, ["a", "b"], ["s"], ordinal={"s": ["A", "B"]})


def test_delta_beta_alpha(three_classes):
    m = measure(three_classes, ["a", "b"], ["s"])
    # Largest |ln(q/p)|: X, value A: ln((2/3) / .3) = ln(20/9).
    assert m["delta_disclosure"] == pytest.approx(math.log(20 / 9), rel=1e-12)
    # Largest (q - p) / p: X, value A: (2/3 - .3) / .3 = 11/9.
    assert m["basic_beta_likeness"] == pytest.approx(11 / 9, rel=1e-12)
    # pycanon's enhanced beta: min(11/9, max over values of -ln p) = -ln .3 = 1.204 < 1.222.
    assert m["enhanced_beta_likeness"] == pytest.approx(-math.log(0.3), rel=1e-12)
    assert m["alpha_k_anonymity"][0] == pytest.approx(2 / 3) and m["alpha_k_anonymity"][1] == 3


def test_risk(three_classes):
    m = measure(three_classes, ["a", "b"], risk_threshold=0.3)
    assert m["prosecutor_risk_max"] == pytest.approx(1 / 3)
    assert m["prosecutor_risk_avg"] == pytest.approx(0.3)  # (3 * 1/3 + 4 * 1/4 + 3 * 1/3) / 10 = 3 classes / 10
    assert m["marketer_risk"] == pytest.approx(0.3)
    assert m["records_at_risk"] == 6 and m["records_at_risk_share"] == pytest.approx(0.6)  # 1/3 > .3, 1/4 not
    assert m["sample_uniques"] == 0
    assert measure(three_classes, ["a", "b"], population_size=100)["marketer_risk"] == pytest.approx(0.03)


def test_uniques_resolved_per_quasi_identifier():
    df = pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "x", "y"], "c": ["p", "q", "p", "r"]})
    m = measure(df, ["a", "b", "c"])
    assert m["sample_uniques"] == 4 and m["sample_unique_share"] == 1.0
    # Without a: (x,p) (x,q) (x,p) (y,r) -> rows 1 and 3 pair up; without b nothing pairs; without c: rows 1, 2.
    assert m["uniques_resolved_without"] == {"a": 2, "b": 0, "c": 2}


def test_missing_values_are_a_value_of_their_own():
    df = pd.DataFrame({"a": [None, None, "u", "u", "u"], "b": [1.0, 1.0, np.nan, np.nan, 2.0]})
    m = measure(df, ["a", "b"])
    assert m["n_classes"] == 3 and m["k_anonymity"] == 1  # (NaN, 1) x2, (u, NaN) x2, (u, 2) x1
    assert m["missing_values"] == {"a": 2, "b": 2}
    assert any("missing" in note for note in m["notes"])
    assert k_anonymity(df, ["a"]).K == 2


def test_suppressed_rows_excluded_or_one_class():
    df = pd.DataFrame({"a": ["*", "*", "1", "1", "1", "2", "2", "2"],
                       "b": ["*", "*", "x", "x", "x", "y", "y", "y"],
                       "s": ["A", "B", "A", "B", "B", "A", "A", "B"]})
    ex = measure(df, ["a", "b"], ["s"])
    assert (ex["n_suppressed"], ex["n_rows"], ex["k_anonymity"], ex["n_classes"]) == (2, 6, 3, 2)
    # p(A) over the 6 kept rows is 1/2: the suppressed rows do not shift the table distribution.
    assert ex["t_closeness"] == pytest.approx(1 / 6)  # 0.5 (|1/3 - 1/2| + |2/3 - 1/2|)
    cl = measure(df, ["a", "b"], ["s"], suppressed="class")
    assert (cl["n_suppressed"], cl["n_rows"], cl["k_anonymity"], cl["n_classes"]) == (2, 8, 2, 3)
    # An explicit mask: rows 2 and 5 suppressed however their values look, together as one class.
    mask = np.zeros(8, dtype=bool)
    mask[[2, 5]] = True
    ex = measure(df.iloc[2:].reset_index(drop=True), ["a", "b"], suppressed_rows=mask[2:])
    assert ex["n_suppressed"] == 2 and ex["k_anonymity"] == 2
    cl = measure(df, ["a", "b"], suppressed="class", suppressed_rows=mask, show_smallest=1)
    assert cl["n_classes"] == 3 and cl["k_anonymity"] == 2
    assert cl["smallest_classes"][0]["size"] == 2


def test_bad_parameters_are_named():
    df = pd.DataFrame({"a": [1, 2], "s": ["x", "y"]})
    with pytest.raises(ValueError, match="risk_treshold"):
        measure(df, ["a"], risk_treshold=0.1)
    with pytest.raises(ValueError, match="both quasi-identifier and sensitive"):
        measure(df, ["a", "s"], ["s"])
    with pytest.raises(KeyError, match="nope"):
        measure(df, ["nope"])


def test_no_sensitive_attribute_and_empty_table():
    df = pd.DataFrame({"a": [1, 1]})
    m = measure(df, ["a"])
    assert m["l_diversity"] is None and m["t_closeness"] is None and m["per_attribute"] == {}
    empty = measure(df.iloc[:0], ["a"], [])
    assert empty["k_anonymity"] == 0 and empty["n_rows"] == 0 and empty["prosecutor_risk_max"] == 0.0
