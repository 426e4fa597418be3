"""The Dagster layer: definitions load from workspace.yaml's module; materialise end to end; a failing
blocking check keeps the release from being written."""

import importlib
from pathlib import Path

import dagster as dg
import yaml

from anon_pipeline.defs.build import build_definitions
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline_tests.pipeline.policies import ROOT, variant

ASSETS = ["raw", "qi_table", "anonymised", "key_tables", "anonymity_report", "utility_report", "release"]
CHECKS = {("anonymised", "k_anonymity"), ("anonymised", "no_identifier_leak"), ("anonymised", "anonymised_schema"),
          ("raw", "raw_schema"), ("qi_table", "qi_table_schema"), ("release", "release_schema"),
          # the bundled policy narrows k to (gender, age band): K over every released QI is checked, as a warning
          ("anonymised", "all_quasi_identifiers")}


def test_workspace_module_loads_every_bundled_policy(monkeypatch, tmp_path):
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    module_name = workspace["load_from"][0]["python_module"]["module_name"]
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ANON_PIPELINE_WORKDIR", str(tmp_path))
    module = importlib.reload(importlib.import_module(module_name))
    defs: dg.Definitions = module.defs
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {f"insurance_customers/{a}" for a in ASSETS} <= keys
    # only a policy with group steps stages the table between its column steps and its group steps
    assert "insurance_customers_k5/before_group_steps" in keys and "insurance_customers/before_group_steps" not in keys
    assert "insurance_customers/contract" not in keys  # only a policy that releases its contract stages one
    job = defs.resolve_job_def("insurance_customers_job")
    assert job is not None
    check_keys = {(c.asset_key.path[-1], c.name) for c in defs.resolve_asset_graph().asset_check_keys
                  if c.asset_key.path[0] == "insurance_customers"}
    assert check_keys == CHECKS


def _materialise(policy_file: Path, workdir: Path, run_config=None):
    defs = build_definitions([policy_file], workdir=str(workdir))
    name = yaml.safe_load(policy_file.read_text())["name"]
    job = defs.resolve_job_def(f"{name}_job")
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                  run_config=run_config or {})


def test_materialise_end_to_end_writes_the_release(tmp_path):
    policy = variant(tmp_path)
    result = _materialise(policy, tmp_path / "w")
    assert result.success
    evaluations = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert set(evaluations) == {c for _, c in CHECKS}
    assert evaluations.pop("all_quasi_identifiers") is False  # a warning: it does not block the release
    assert all(evaluations.values())
    release = Path(result.output_for_node("insurance_customers__release", "release"))
    assert (release / "anonymised.parquet").is_file()
    assert (tmp_path / "w" / "insurance_customers" / "release" / "latest").resolve() == release.resolve()


def test_source_override_by_run_config(tmp_path):
    from anon_pipeline.sample import generate

    source = tmp_path / "march.csv"
    generate("insurance_customers", 120, 9).to_csv(source, index=False)
    result = _materialise(variant(tmp_path, privacy__k=1), tmp_path / "w",
                          {"ops": {"insurance_customers__raw": {"config": {"source": str(source)}}}})
    assert result.success
    from anon_pipeline.pipeline.staged import StagedTable
    staged = StagedTable.of(result.output_for_node("insurance_customers__anonymise", "anonymised"))
    assert staged.rows == 120 and len(staged.frame()) == 120


def test_failing_k_check_blocks_the_release(tmp_path):
    policy = variant(tmp_path, privacy__k=5000)
    result = _materialise(policy, tmp_path / "w")
    assert not result.success
    k_eval = [e.asset_check_evaluation_data for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.asset_check_evaluation_data.check_name ==
              "k_anonymity"][0]
    assert not k_eval.passed and k_eval.severity == dg.AssetCheckSeverity.ERROR
    assert k_eval.metadata["measured"].value < 5000 and "K" not in k_eval.metadata
    materialised = {e.asset_key.path[-1] for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert "release" not in materialised
    assert not (tmp_path / "w" / "insurance_customers" / "release").exists()


def test_bad_input_fails_the_raw_schema_check(tmp_path):
    from anon_pipeline.sample import generate

    frame = generate("insurance_customers", 60, 2)
    frame.loc[:2, "gender"] = "X"
    source = tmp_path / "bad.csv"
    frame.to_csv(source, index=False)
    result = _materialise(variant(tmp_path, source={"path": str(source)}), tmp_path / "w")
    assert not result.success
    raw_eval = [e.asset_check_evaluation_data for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION"][0]
    assert raw_eval.check_name == "raw_schema" and not raw_eval.passed
    problems = raw_eval.metadata["problems"].value
    assert problems[0]["column"] == "gender" and problems[0]["n_rows"] == 3
    assert not (tmp_path / "w" / "insurance_customers" / "release").exists()


def test_policy_schedule_becomes_a_dagster_schedule(tmp_path):
    policy = variant(tmp_path, schedule="0 6 1 * *")
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    schedule = defs.resolve_schedule_def("insurance_customers_schedule")
    assert schedule.cron_schedule == "0 6 1 * *" and schedule.job_name == "insurance_customers_job"


def test_privacy_targets_are_declared_as_checks_with_their_blocking(tmp_path):
    policy = variant(tmp_path, privacy__l=[{"variant": "entropy", "l": 1.5, "blocking": True}],
                     privacy__risk={"prosecutor_max": 0.5})
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    specs = {spec.name: spec.blocking for a in defs.assets for spec in a.check_specs}
    assert specs["k_anonymity"] is True
    assert specs["entropy_l_diversity_drinks_per_week"] is True
    assert specs["entropy_l_diversity_cigarettes_per_week"] is True
    assert specs["prosecutor_risk_max"] is False


def test_inbox_sensor_requests_one_run_per_new_or_changed_file(tmp_path):
    import os

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    policy = variant(tmp_path, source={"inbox": "inbox"})
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    sensor = defs.resolve_sensor_def("insurance_customers_inbox_sensor")
    with dg.instance_for_test() as instance:
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not first.run_requests
        (inbox / "march.csv").write_text("a,b\n1,2\n")
        (inbox / "notes.txt").write_text("not an input")
        second = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert len(second.run_requests) == 1
        config = second.run_requests[0].run_config["ops"]["insurance_customers__raw"]["config"]
        assert config["source"] == str((inbox / "march.csv").resolve())
        third = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=second.cursor))
        assert not third.run_requests
        (inbox / "march.csv").write_text("a,b\n1,2\n3,4\n")
        os.utime(inbox / "march.csv", ns=(1, 10**18))
        fourth = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=third.cursor))
        assert len(fourth.run_requests) == 1


def test_in_process_steps_read_the_qi_pass_counts_from_memory_and_seal_none(tmp_path):
    # Every step of an in-process run finds the counts in this process (``Run.took_counts`` seals them when
    # another executor may run the next steps elsewhere: ``test_table_counts``).
    result = _materialise(variant(tmp_path), tmp_path / "w")
    qi = StagedTable.of(result.output_for_node("insurance_customers__qi_table", "qi_table"))
    anonymised = StagedTable.of(result.output_for_node("insurance_customers__anonymise", "anonymised"))
    assert result.success and not qi.has_extra("table-counts-joint") and not anonymised.has_extra("table-counts-joint")


def test_a_policy_that_releases_its_contract_stages_it_as_an_asset_and_releases_it(tmp_path):
    result = _materialise(variant(tmp_path, release__contract=True), tmp_path / "w")
    contract = StagedTable.of(result.output_for_node("insurance_customers__qi_table", "contract"))
    release = Path(result.output_for_node("insurance_customers__release", "release"))
    assert result.success and contract.rows == 1000
    written = tmp_path / "w" / "insurance_customers" / "key_tables" / "contracts" / f"{release.name}.parquet.enc"
    assert written.is_file()


def test_a_second_run_of_a_policy_stops_while_another_stages_in_its_folder(tmp_path):
    from dagster._core.storage.dagster_run import DagsterRunStatus

    from anon_pipeline.pipeline.staging_claim import claim_file

    policy = variant(tmp_path)
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    job = defs.resolve_job_def("insurance_customers_job")
    instance = dg.DagsterInstance.ephemeral()
    # Another run of the policy, in progress, has claimed the staging folder its assets share.
    other = instance.create_run_for_job(job_def=job, status=DagsterRunStatus.STARTED)
    claim = claim_file(tmp_path / "w" / "insurance_customers", None)
    claim.parent.mkdir(parents=True)
    claim.write_text(other.run_id)
    blocked = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not blocked.success
    failures = [e for e in blocked.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failures[0].step_failure_data.error.message
    assert other.run_id in message and "still materialising" in message and "ANON_PIPELINE_WORKDIR" in message
    assert not (tmp_path / "w" / "insurance_customers" / "release").exists()
    assert claim.read_text() == other.run_id
    # Once that run has ended, its claim blocks nothing: the next run takes the folder over and releases.
    instance.report_run_failed(other)
    done = job.execute_in_process(instance=instance, raise_on_error=False)
    assert done.success and claim.read_text() == done.run_id


def test_a_run_sets_its_batch_size_in_the_run_config(tmp_path):
    import json

    policy = variant(tmp_path)
    config = {"resources": {"anon": {"config": {"batch_rows": 100}}}}
    result = _materialise(policy, tmp_path / "w", config)
    assert result.success
    manifest = json.loads((Path(result.output_for_node("insurance_customers__release", "release"))
                           / "manifest.json").read_text())
    # 1000 sample rows (a CSV: its rows estimated from its size) in batches of 100: the apply pass ran over about
    # 10 GUID buckets, where the policy's own batch (250,000 rows) makes one.
    assert 10 <= manifest["buckets"] <= 20
    refused = _materialise(policy, tmp_path / "w2", {"resources": {"anon": {"config": {"batch_rows": 0}}}})
    assert not refused.success
