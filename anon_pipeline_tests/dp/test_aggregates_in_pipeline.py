"""DP aggregates as a stage of the one graph: their own release, and an over-budget run stops before anything
else is written (run_policy and Dagster alike)."""

import dagster as dg
import pytest

import anon_pipeline as ap
from anon_pipeline.defs.build import build_definitions
from anon_pipeline.errors import BudgetExceeded
from anon_pipeline_tests.pipeline.policies import variant

DP = {"dataset_id": "customers", "budget": {"epsilon": 1.2},
      "aggregates": [{"name": "by_gender", "kind": "count", "by": ["gender"], "epsilon": 0.5},
                     {"name": "weight_mean", "kind": "mean", "column": "weight", "bounds": [30, 100],
                      "epsilon": 0.5}]}


def test_aggregates_are_released_apart_and_the_second_run_is_refused_before_any_write(tmp_path):
    policy = variant(tmp_path, dp=DP, privacy__k=2)
    first = ap.run_policy(policy, workdir=tmp_path / "w")
    root = tmp_path / "w" / "insurance_customers"
    assert first.released
    aggregates = root / "release_aggregates" / "latest"
    assert {p.name for p in aggregates.iterdir()} >= {"by_gender.parquet", "weight_mean.parquet", "manifest.json"}
    releases_before = sorted(p.name for p in (root / "release").iterdir())
    with pytest.raises(BudgetExceeded, match="budget epsilon=1.2"):
        ap.run_policy(policy, workdir=tmp_path / "w")
    assert sorted(p.name for p in (root / "release").iterdir()) == releases_before
    assert len([p for p in (root / "release_aggregates").iterdir() if p.name != "latest"]) == 1


def test_dagster_has_the_aggregate_asset_and_refuses_over_budget(tmp_path):
    policy = variant(tmp_path, dp={**DP, "budget": {"epsilon": 0.9}}, privacy__k=2)
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    assert dg.AssetKey(["insurance_customers", "dp_aggregates"]) in set(defs.resolve_all_asset_keys())
    result = defs.resolve_job_def("insurance_customers_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    root = tmp_path / "w" / "insurance_customers"
    assert not (root / "release_aggregates").exists() and not (root / "release").exists()
