"""A partitioned policy in Dagster: every asset and check partitioned alike, one run per month (and a backfill of
two), checks evaluated per partition, the partitioned schedule, and staging kept apart per partition."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg
import pandas as pd

from anon_pipeline.defs.build import build_definitions
from anon_pipeline_tests.pipeline.policies import variant
from anon_pipeline_tests.pipeline.test_partitions import MONTHLY, MONTHS, monthly_files

PREFIX = "insurance_customers"


def _checks(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_three_monthly_partitions_then_a_backfill_of_two(tmp_path):
    monthly_files(tmp_path, rows=200)
    policy = variant(tmp_path, privacy__k=2, partitions=MONTHLY, plan={"reuse": "latest"})
    work = tmp_path / "w"
    defs = build_definitions([policy], workdir=str(work))
    graph = defs.resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.get_all_asset_keys() if k.path[0] == PREFIX]
    assert nodes and all(isinstance(n.partitions_def, dg.MonthlyPartitionsDefinition) for n in nodes)
    assert {n.partitions_def.get_partition_keys()[0] for n in nodes} == {"2024-01"}
    job = defs.resolve_job_def(f"{PREFIX}_job")
    instance = dg.DagsterInstance.ephemeral()
    for month in MONTHS:
        result = job.execute_in_process(instance=instance, partition_key=month)
        checks = _checks(result)
        assert result.success and checks["k_anonymity"] and "union_k_anonymity" in checks
        assert result.dagster_run.tags["dagster/partition"] == month
    release_key = dg.AssetKey([PREFIX, "release"])
    assert instance.get_materialized_partitions(release_key) == set(MONTHS)
    root = work / PREFIX
    first = {m: (root / "release" / m / "latest").resolve() for m in MONTHS}
    plan_ids = {json.loads((first[m] / "manifest.json").read_text())["plan_id"] for m in MONTHS}
    assert len(plan_ids) == 1
    assert sorted(p.name for p in (root / "staging").iterdir() if p.is_dir()) == MONTHS
    # A backfill of two months: Dagster launches one run per partition (each month reads its own file).
    for month in MONTHS[:2]:
        assert dg.materialize(defs.assets, partition_key=month, instance=instance,
                              resources=defs.resources, selection=dg.AssetSelection.key_prefixes(PREFIX)).success
    again = {m: (root / "release" / m / "latest").resolve() for m in MONTHS}
    assert again["2024-03"] == first["2024-03"]
    assert all(again[m] != first[m] and again[m].parent == first[m].parent for m in MONTHS[:2])
    # Backfilled releases replay the same plan: the same codes as before.
    for m in MONTHS[:2]:
        assert json.loads((again[m] / "manifest.json").read_text())["plan_id"] in plan_ids
        before = pd.read_parquet(first[m] / "anonymised.parquet")
        after = pd.read_parquet(again[m] / "anonymised.parquet")
        assert set(after["education_code"]) == set(before["education_code"])


def test_static_and_daily_partitions_map_to_dagster_partitions(tmp_path):
    static = variant(tmp_path, "static.yaml", partitions={"static": ["north", "south"], "source": "x_{partition}.csv"})
    daily = variant(tmp_path, "daily.yaml", name="daily_customers",
                    partitions={"daily": {"start": "2024-01-01", "end": "2024-01-05", "source": "x_{day}.csv"}})
    defs = build_definitions([static, daily], workdir=str(tmp_path / "w"))
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey([PREFIX, "release"])).partitions_def.get_partition_keys() == ["north", "south"]
    days = graph.get(dg.AssetKey(["daily_customers", "release"])).partitions_def.get_partition_keys()
    assert days == [f"2024-01-0{d}" for d in range(1, 6)]
    assert not [k for k in graph.get_all_asset_keys() if k.path[0] == "policy_errors"]


def test_a_monthly_policy_gets_a_partitioned_schedule_for_the_month_just_ended(tmp_path):
    policy = variant(tmp_path, privacy__k=2, partitions=MONTHLY, schedule="0 6 1 * *")
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    schedule = defs.resolve_schedule_def(f"{PREFIX}_schedule")
    assert schedule.cron_schedule == "0 6 1 * *"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 4, 1, 6, 0, tzinfo=timezone.utc))
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2024-03"]
