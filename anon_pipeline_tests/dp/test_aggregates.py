"""DP aggregate releases: the ``dp.aggregates`` spec refused at load when unsafe or malformed, noise scales equal
to their formulas, exact answers recovered at a large epsilon, declared keys always present, and an over-budget
release refused before anything is written.

Noise is not seeded (OpenDP's CSPRNG); every tolerance below is a multiple of the Laplace scale whose chance of
being exceeded is stated (P(|Laplace(b)| > t b) = e^-t).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.dp.aggregates import RELEASE_DIR, dp_aggregates, write_dp_aggregates
from anon_pipeline.dp.accounting import Spend
from anon_pipeline.dp.ledger import Ledger
from anon_pipeline.dp.mechanisms import laplace_sums
from anon_pipeline.errors import BudgetExceeded, PolicyError
from anon_pipeline.policy.load import parse_policy
from anon_pipeline.release.writer import read_release_table, verify_release
from anon_pipeline_tests.dp.test_mechanisms import _histograms, _max_log_ratio

REGIONS = ["N", "S", "E", "W"]
AGGREGATES = [
    {"name": "customers_by_region", "kind": "count", "by": ["region"], "epsilon": 0.5},
    {"name": "weight_sum", "kind": "sum", "column": "weight", "bounds": [30, 100], "by": ["gender"], "epsilon": 0.5},
    {"name": "weight_mean", "kind": "mean", "column": "weight", "bounds": [30, 100], "epsilon": 0.5},
    {"name": "drinks_hist", "kind": "histogram", "column": "drinks", "edges": [0, 6, 12, 100], "epsilon": 0.5},
]


def policy_doc(aggregates=AGGREGATES, budget: float | None = 3.0) -> dict:
    dp = {"dataset_id": "insurance", "aggregates": aggregates}
    if budget is not None:
        dp["budget"] = {"epsilon": budget}
    return {"name": "ins", "seed": 1,
            "columns": {"id": {"role": "identifier"},
                        "region": {"role": "quasi_identifier", "allowed": REGIONS, "output": "region"},
                        "gender": {"role": "quasi_identifier", "allowed": ["F", "M"]},
                        "city": {"role": "quasi_identifier"},
                        "weight": {"role": "sensitive", "dtype": "int", "nullable": True},
                        "drinks": {"role": "sensitive", "dtype": "float", "nullable": True}},
            "dp": dp}


def with_epsilon(epsilon: float) -> list[dict]:
    return [{**a, "epsilon": epsilon} for a in AGGREGATES]


def data(n: int = 2000, regions: list[str] = REGIONS[:3]) -> pd.DataFrame:
    """The qi table's columns (input names); ``W`` never occurs by default, weights sometimes outside the bounds."""
    rng = np.random.default_rng(11)
    weight = pd.array(rng.integers(20, 130, n), dtype="Int64")
    weight[::97] = pd.NA
    drinks = rng.uniform(0, 30, n)
    drinks[::89] = np.nan
    return pd.DataFrame({"region": pd.array(rng.choice(regions, n), dtype="str"),
                         "gender": pd.array(rng.choice(["F", "M"], n), dtype="str"),
                         "city": pd.array(rng.choice(["a", "b"], n), dtype="str"), "weight": weight,
                         "drinks": drinks})


# ---- the spec -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, field, words", [
    ({"bound": [30, 100]}, "dp.aggregates[1].bound", "did you mean 'bounds'"),
    ({"bounds": None}, "dp.aggregates[1].bounds", "a sum needs 'bounds'"),
    ({"bounds": [100, 30]}, "dp.aggregates[1].bounds", "low < high"),
    ({"edges": [0, 1]}, "dp.aggregates[1].edges", "a sum takes no 'edges'"),
    ({"kind": "histogram", "bounds": None}, "dp.aggregates[1].edges", "a histogram needs 'edges'"),
    ({"epsilon": True}, "dp.aggregates[1].epsilon", "not true/false"),
    ({"keys": {"region": ["N"]}}, "dp.aggregates[1].keys", "not one of the 'by' columns"),
    ({"by": ["city"]}, "dp.aggregates[1].by", "no declared key set"),
    ({"by": ["id"]}, "dp.aggregates[1].by", "not a released column"),
    ({"column": "city"}, "dp.aggregates[1].column", "numeric column"),
    ({"name": "customers_by_region"}, "dp.aggregates", "share the name"),
])
def test_spec_refused_at_load_naming_the_field(change, field, words):
    aggregates = [dict(a) for a in AGGREGATES]
    aggregates[1] = {k: v for k, v in {**aggregates[1], **change}.items() if v is not None}
    with pytest.raises(PolicyError) as err:
        parse_policy(policy_doc(aggregates), "p.yaml")
    assert err.value.field == field and words in str(err.value) and "p.yaml" in str(err.value)


def test_explicit_keys_make_a_column_without_allowed_values_a_valid_partition():
    aggregates = [{"name": "by_city", "kind": "count", "by": ["city"], "keys": {"city": ["a", "b", "c"]},
                   "epsilon": 1.0}]
    policy = parse_policy(policy_doc(aggregates))
    table = dp_aggregates(data(), policy.dp.aggregates, policy)[0]["by_city"]
    assert table["city"].tolist() == ["a", "b", "c"]


# ---- the noise ------------------------------------------------------------------------------------------------

def test_noise_scale_equals_the_formula_for_each_kind():
    eps = 0.5
    policy = parse_policy(policy_doc(with_epsilon(eps)))
    tables, spends = dp_aggregates(data(), policy.dp.aggregates, policy)
    assert set(tables["customers_by_region"]["scale"]) == {1 / eps}                  # L1 sensitivity 1
    assert set(tables["drinks_hist"]["scale"]) == {1 / eps}
    assert set(tables["weight_sum"]["scale"]) == {max(abs(30), abs(100)) / eps}      # integers: exact
    mean = tables["weight_mean"]
    assert mean["sum_scale"].tolist() == [100 / (eps / 2)] and mean["count_scale"].tolist() == [1 / (eps / 2)]
    assert spends == {name: Spend(eps, 0.0, None, f"laplace_{kind}") for name, kind in
                      [("customers_by_region", "count"), ("weight_sum", "sum"), ("weight_mean", "mean"),
                       ("drinks_hist", "histogram")]}
    # Integers with bounds of mixed sign: max(|low|, |high|). Floats: OpenDP's bound, a hair above for bounds of
    # one sign (rounding), high - low for mixed signs; never less than the formula.
    assert laplace_sums([np.array([5])], (-300, 100), 2.0)[1] == 150.0
    # 64-bit sums: far above 2^31 (no saturation), at a scale (0.5) far below the distance to it.
    big = laplace_sums([np.full(3, 2_000_000_000, dtype=np.int64)], (0, 2_000_000_000), 4e9)[0][0]
    assert abs(big - 6e9) <= 30 * 0.5
    assert laplace_sums([np.array([5.0])], (30.0, 100.0), 2.0)[1] == pytest.approx(50.0, rel=1e-6)
    assert laplace_sums([np.array([5.0])], (30.0, 100.0), 2.0)[1] >= 50.0
    assert laplace_sums([np.array([5.0])], (-300.0, 100.0), 2.0)[1] == pytest.approx(200.0, rel=1e-6)


def test_large_epsilon_recovers_the_exact_aggregates():
    """At epsilon 1000 the scales are 1e-3 (counts) and 0.1 (sums); 30 scales is exceeded with chance e^-30."""
    table = data()
    policy = parse_policy(policy_doc(with_epsilon(1000.0), budget=None))
    out = dp_aggregates(table, policy.dp.aggregates, policy)[0]

    counts = out["customers_by_region"].set_index("region")
    exact = table["region"].value_counts().reindex(REGIONS, fill_value=0)
    assert np.all(np.abs(counts["value"] - exact) <= 30 * counts["scale"])

    sums = out["weight_sum"].set_index("gender")
    exact = table.assign(w=table["weight"].clip(30, 100)).groupby("gender")["w"].sum()
    assert np.all(np.abs(sums["value"] - exact.reindex(sums.index)) <= 30 * sums["scale"])

    mean = out["weight_mean"].iloc[0]
    clipped = table["weight"].dropna().clip(30, 100)
    # |a/b - A/B| <= (|a - A| + |A/B| |b - B|) / b for the noisy sum a and count b.
    tolerance = 30 * (mean["sum_scale"] + 100 * mean["count_scale"]) / (len(clipped) - 30 * mean["count_scale"])
    assert abs(mean["value"] - clipped.mean()) <= tolerance

    hist = out["drinks_hist"]
    exact = np.histogram(table["drinks"].dropna().clip(upper=99), [0, 6, 12, 100])[0]
    assert hist[["bin_low", "bin_high"]].values.tolist() == [[0, 6], [6, 12], [12, 100]]
    assert np.all(np.abs(hist["value"] - exact) <= 30 * hist["scale"])


def test_declared_keys_absent_from_the_data_still_appear_with_noise():
    policy = parse_policy(policy_doc(with_epsilon(0.5)))
    table = data(regions=["N"])
    values = []
    for _ in range(20):
        counts = dp_aggregates(table, policy.dp.aggregates[:1], policy)[0]["customers_by_region"]
        assert counts["region"].tolist() == REGIONS
        values.append(counts.set_index("region").loc[["S", "E", "W"], "value"].to_numpy())
    # Discrete Laplace of scale 2 is 0 with chance tanh(1/4) < 0.25: 60 zeros would happen with chance < 1e-36.
    assert np.any(np.concatenate(values) != 0)


def test_clipped_sum_on_neighbouring_datasets_stays_within_e_epsilon():
    """Adding one row of weight 100 (the bound) to a group: the noisy sums' distributions, in buckets of 100,
    differ by at most e^epsilon, and reach it (the noise is not larger than needed). Tolerance 0.35 on the log
    ratio over buckets with >= 2% of 20 000 draws on both sides (standard error <= sqrt(2/400) = 0.07: 5 of them)."""
    eps, tolerance, draws = 1.0, 0.35, 20_000
    base = np.array([50, 70, 90], dtype=np.int64)
    a = laplace_sums([base] * draws, (30, 100), eps)[0]
    b = laplace_sums([np.append(base, 100)] * draws, (30, 100), eps)[0]
    p, q = _histograms(np.floor(a / 100), np.floor(b / 100))
    worst = _max_log_ratio(p, q)
    assert eps - tolerance <= worst <= eps + tolerance


# ---- the release ----------------------------------------------------------------------------------------------

def test_release_written_with_each_epsilon_and_charged(tmp_path):
    policy = parse_policy(policy_doc())
    folder = write_dp_aggregates(data(), policy, tmp_path, "run1")
    assert folder.parent == tmp_path / "ins" / RELEASE_DIR and verify_release(folder) == []
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {n: a["epsilon"] for n, a in manifest["aggregates"].items()} == {a["name"]: 0.5 for a in AGGREGATES}
    assert manifest["epsilon_total"] == 2.0 and manifest["dataset_id"] == "insurance"
    assert read_release_table(folder, "weight_sum").columns.tolist() == ["gender", "value", "scale"]
    assert Ledger.for_dataset(tmp_path, "insurance").spent() == (2.0, 0.0)
    # Fresh noise is a new spend, even under the same release id.
    write_dp_aggregates(data(), policy.model_copy(update={"dp": policy.dp.model_copy(
        update={"aggregates": policy.dp.aggregates[:1]})}), tmp_path, "run1")
    assert Ledger.for_dataset(tmp_path, "insurance").spent() == (2.5, 0.0)


def test_over_budget_release_is_refused_with_nothing_written(tmp_path):
    ledger = Ledger.for_dataset(tmp_path, "insurance")
    ledger.charge({"earlier": Spend(1.5, mechanism="laplace")}, policy="other",
                  budget=parse_policy(policy_doc()).dp.budget)
    before = ledger.entries()
    with pytest.raises(BudgetExceeded, match="requested epsilon=2"):
        write_dp_aggregates(data(), parse_policy(policy_doc()), tmp_path, "run1")
    assert ledger.entries() == before
    folder = tmp_path / "ins" / RELEASE_DIR
    assert not folder.exists() or not any(folder.iterdir())


def test_no_aggregates_writes_nothing(tmp_path):
    assert write_dp_aggregates(data(), parse_policy(policy_doc([])), tmp_path, "run1") is None
    assert not (tmp_path / "ledger").exists()


def test_drawn_aggregates_survive_staging_as_json(tmp_path):
    """Drawn at their stage, published by the release: the tables pass between them as JSON (Dagster's IO
    manager), and come back with the same values and dtypes, so the release writes what was drawn."""
    from anon_pipeline.dp.aggregates import DrawnAggregates, draw_dp_aggregates

    drawn = draw_dp_aggregates(data(), parse_policy(policy_doc()), tmp_path, "run1")
    back = DrawnAggregates.of(json.loads(json.dumps(drawn.as_dict())))
    assert back.manifest == json.loads(json.dumps(drawn.manifest)) and list(back.tables) == list(drawn.tables)
    for name, table in drawn.tables.items():
        pd.testing.assert_frame_equal(back.tables[name], table)
    assert not (tmp_path / "ins" / RELEASE_DIR).exists()   # drawn and charged, not published
    assert Ledger.for_dataset(tmp_path, "insurance").spent() == (2.0, 0.0)
