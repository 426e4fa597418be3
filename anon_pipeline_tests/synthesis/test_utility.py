"""Association measures against hand computations; grouping; the utility report's shape and content."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.synthesis.grouping import auto_groups, explicit_groups
from anon_pipeline.utility.association import correlation_ratio, cramers_v
from anon_pipeline.utility.marginals import ks_complement, tv_complement
from anon_pipeline.utility.report import utility_report


def test_cramers_v_of_a_2x2_table_is_phi():
    # Table [[30, 10], [10, 30]]: chi^2 = 80 * (30*30 - 10*10)^2 / (40^4) = 20, V = sqrt(20 / 80) = 0.5
    a = pd.Series(["p"] * 40 + ["q"] * 40)
    b = pd.Series(["u"] * 30 + ["v"] * 10 + ["u"] * 10 + ["v"] * 30)
    assert cramers_v(a, b) == pytest.approx(0.5)


def test_correlation_ratio_by_hand():
    # groups a: (1, 3) mean 2; b: (5, 7) mean 6; grand mean 4. SS_between = 4*4 = 16, SS_total = 9+1+1+9 = 20.
    eta = correlation_ratio(pd.Series(["a", "a", "b", "b"]), np.array([1.0, 3.0, 5.0, 7.0]))
    assert eta == pytest.approx(math.sqrt(16 / 20))


def test_marginal_complements_by_hand():
    assert tv_complement(pd.Series(["a", "a", "b", "b"]), pd.Series(["a", "b", "b", "b"])) == pytest.approx(0.75)
    assert ks_complement(pd.Series([1.0, 2, 3, 4]), pd.Series([1.0, 2, 3, 4])) == pytest.approx(1.0)
    assert ks_complement(pd.Series([1.0, 2, 3, 4]), pd.Series([3.5, 5, 6, 7])) == pytest.approx(0.25)


def test_auto_groups_link_dependent_attributes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    cat = np.where(x > 0, "hi", "lo")
    df = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(scale=0.3, size=2000), "z": rng.normal(size=2000),
                       "c": cat, "d": rng.choice(["u", "v"], 2000)})
    grouping = auto_groups(df, ["x", "y", "z", "c", "d"], threshold=0.3)
    assert sorted(map(sorted, grouping.groups)) == [["c", "x", "y"], ["d"], ["z"]]
    assert {tuple(sorted(l[:2])) for l in grouping.links} == {("x", "y"), ("c", "x"), ("c", "y")}
    json.dumps(grouping.as_dict())
    assert explicit_groups(["a", "b", "c"], [["a", "c"]]).groups == [["a", "c"], ["b"]]
    with pytest.raises(ValueError):
        explicit_groups(["a", "b"], [["a"], ["a", "b"]])


def test_utility_report_is_json_and_holds_no_values():
    rng = np.random.default_rng(3)
    raw = pd.DataFrame({"city": rng.choice(["Zanzibar", "Quixote"], 500), "income": rng.normal(5e4, 1e4, 500),
                        "kids": rng.integers(0, 4, 500), "age": rng.integers(18, 80, 500)})
    anon = raw.sample(frac=1.0, random_state=2, ignore_index=True)
    anon["income"] = anon["income"] + rng.normal(0, 2e3, 500)
    anon["age"] = pd.cut(anon["age"], [0, 40, 100]).astype(str)
    report = utility_report(raw, anon, ["city", "income", "kids", "age"], groups={"g": ["city", "income"]}, seed=1)
    text = json.dumps(report)
    assert "Zanzibar" not in text and "Quixote" not in text
    cols = report["columns"]
    assert cols["age"]["comparable"] is False
    assert cols["city"]["tv_complement"] == pytest.approx(1.0) and cols["city"]["kl"]["value"] == pytest.approx(0.0)
    assert 0.8 < cols["income"]["ks_complement"] < 1.0 and cols["income"]["kl"]["method"] == "monte_carlo"
    assert cols["kids"]["kl"]["method"] == "discrete"
    assert report["groups"]["g"]["mc_samples"] > 0
    assert report["association"]["measure"]["city"]["income"] == "correlation_ratio"
    assert set(report["association"]["delta"]) == {"city", "income", "kids"}
