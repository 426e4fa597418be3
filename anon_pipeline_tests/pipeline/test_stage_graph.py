"""One stage graph: run_policy and the Dagster assets walk the same stages and checks, with the same answers and
the same blocking behaviour."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

import anon_pipeline as ap
from anon_pipeline.defs.build import build_definitions
from anon_pipeline.errors import InternalError
from anon_pipeline.pipeline.graph import stage_graph
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import variant


def _both(tmp_path: Path, rows: int, k: int):
    """The same export through run_policy (work folder a) and Dagster (work folder b)."""
    source = tmp_path / "export.csv"
    generate("insurance_customers", rows, 4).to_csv(source, index=False)
    policy_file = variant(tmp_path, privacy__k=k)
    return ap.run_policy(policy_file, source=source, workdir=tmp_path / "a"), \
        *_dagster(policy_file, tmp_path / "b", source)[1:]


def _dagster(policy_file: Path, workdir: Path, source: Path):
    defs = build_definitions([policy_file], workdir=str(workdir))
    job = defs.resolve_job_def("insurance_customers_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                    run_config={"ops": {"insurance_customers__raw": {"config": {"source": str(source)}}}})
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    materialised = {e.asset_key.path[-1] for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    return defs, result, checks, materialised


@pytest.mark.parametrize("evaluation", [None, {"control_share": 0.2, "targets": {"linkage": 0.0, "inference": 0.1}}])
def test_dagster_declares_exactly_the_graphs_stages_and_checks(tmp_path, evaluation):
    policy_file = variant(tmp_path, **({"evaluation": evaluation} if evaluation else {}))
    graph = stage_graph(load_policy(policy_file))
    defs = build_definitions([policy_file], workdir=str(tmp_path / "w"))
    keys = {k.path[-1] for k in defs.resolve_all_asset_keys() if k.path[0] == "insurance_customers"}
    assert keys == {o.name for s in graph.stages for o in s.outputs}
    declared = {(k.asset_key.path[-1], k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert declared == {(c.on, spec.name) for c in graph.checks for spec in c.specs}
    if evaluation:
        assert {"control", "attack_report"} <= keys
        assert ("attack_report", "inference_risk_drinks_per_week") in declared


def test_both_walkers_give_the_same_checks_and_release(tmp_path):
    plain, result, checks, materialised = _both(tmp_path, 300, k=2)
    assert result.success and plain.released and "release" in materialised
    assert checks == plain.checks
    dagster_release = pd.read_parquet(Path(result.output_for_node("insurance_customers__release", "release"))
                                      / "anonymised.parquet")
    # Codes are drawn afresh each run; every other released column must agree value for value.
    for column in ["gender", "age_band", "weight_band_kg", "height_band_m", "drinks_per_week", "blood_group"]:
        assert dagster_release[column].value_counts().to_dict() == plain.anonymised[column].value_counts().to_dict()


def test_a_failing_blocking_check_stops_the_same_stages_in_both(tmp_path):
    plain, result, checks, materialised = _both(tmp_path, 200, k=5000)
    assert not plain.released and not result.success
    assert checks == plain.checks and checks["k_anonymity"] is False
    # Downstream of the blocked table nothing ran: no report, no release, in either.
    assert materialised.isdisjoint({"anonymity_report", "utility_report", "release"})
    assert plain.anonymity["report"] is None and plain.utility == {}
    for work in (tmp_path / "a", tmp_path / "b"):
        reports = work / "insurance_customers" / "reports"
        assert not reports.exists() or not any(reports.iterdir())
        assert not (work / "insurance_customers" / "release").exists() or \
            not any((work / "insurance_customers" / "release").iterdir())


def test_the_apply_pass_judges_the_anonymised_schema_once_as_it_writes(tmp_path, monkeypatch):
    from dataclasses import replace

    import anon_pipeline.pipeline.graph as graph_module

    real = graph_module.check_anonymised_schema
    seen: list[int] = []
    broken = {"at": None}

    def judged(batch, policy):
        seen.append(len(batch))
        outcome = real(batch, policy)
        return replace(outcome, passed=False) if len(seen) == broken["at"] else outcome

    monkeypatch.setattr(graph_module, "check_anonymised_schema", judged)
    source = tmp_path / "export.csv"
    generate("insurance_customers", 400, 4).to_csv(source, index=False)
    policy_file = variant(tmp_path, privacy__k=2)
    passed = ap.run_policy(policy_file, source=source, workdir=tmp_path / "a", batch_rows=100)
    assert passed.released and passed.checks["anonymised_schema"]
    # Every released row judged exactly once, bucket by bucket: the check and the release read nothing again.
    assert len(seen) > 1 and sum(seen) == len(passed.anonymised)
    seen.clear()
    broken["at"] = 2
    failed = ap.run_policy(policy_file, source=source, workdir=tmp_path / "b", batch_rows=100)
    assert not failed.released and failed.checks["anonymised_schema"] is False
    assert len(seen) == 2  # the first broken bucket says what is wrong


@pytest.mark.parametrize("prefixes_distinct", [True, False])
def test_the_qi_pass_judges_the_qi_schema_as_it_writes_unless_guids_may_repeat(tmp_path, monkeypatch,
                                                                             prefixes_distinct):
    import anon_pipeline.pipeline.graph as graph_module
    from anon_pipeline.pipeline.guids import GuidPrefixes

    real = graph_module.check_schema
    judged: list[int] = []

    def counting(name, frame, schema):
        if name == "qi_table":
            judged.append(len(frame))
        return real(name, frame, schema)

    monkeypatch.setattr(graph_module, "check_schema", counting)
    if not prefixes_distinct:
        monkeypatch.setattr(GuidPrefixes, "distinct", lambda self: False)
    source = tmp_path / "export.csv"
    generate("insurance_customers", 400, 4).to_csv(source, index=False)
    result = ap.run_policy(variant(tmp_path, privacy__k=2), source=source, workdir=tmp_path / "w", batch_rows=150)
    assert result.released and result.checks["qi_table_schema"]
    # Each row once, as the qi pass wrote it; when two batches may share a GUID, the check reads the table again.
    assert sum(judged) == (400 if prefixes_distinct else 800)


def test_the_release_schema_finds_a_guid_repeated_in_another_batch(tmp_path):
    from anon_pipeline.pipeline.graph import Run, _release_schema

    source = tmp_path / "export.csv"
    generate("insurance_customers", 300, 4).to_csv(source, index=False)
    policy_file = variant(tmp_path, privacy__k=2)
    result = ap.run_policy(policy_file, source=source, workdir=tmp_path / "w")
    run = Run(load_policy(policy_file), batch_rows=100)
    assert [o.passed for o in _release_schema(run, result.release_dir)] == [True]
    table = pd.read_parquet(result.release_dir / "anonymised.parquet")
    table.loc[250, "guid"] = table.loc[10, "guid"]  # batches of 100 rows: the first and the third
    folder = tmp_path / "copy"
    folder.mkdir()
    table.to_parquet(folder / "anonymised.parquet", index=False)
    outcome, = _release_schema(run, folder)
    assert not outcome.passed and {p["rule"]: p["n_rows"] for p in outcome.metadata["problems"]} == {"unique": 2}


def test_run_policy_computes_the_anonymity_report_while_the_leak_check_runs(tmp_path, monkeypatch):
    import threading

    import anon_pipeline.pipeline.graph as graph_module

    report_started, threads = threading.Event(), {}
    real_report, real_leak = graph_module.anonymity_report, graph_module._leak

    def report(*args, **kwargs):
        threads["report"] = threading.current_thread()
        report_started.set()
        return real_report(*args, **kwargs)

    def leak(*args, **kwargs):
        # The report starts while this check still runs: it was computed ahead, in a thread of its own.
        threads["overlapped"] = report_started.wait(timeout=20)
        return real_leak(*args, **kwargs)

    monkeypatch.setattr(graph_module, "anonymity_report", report)
    monkeypatch.setattr(graph_module, "_leak", leak)
    source = tmp_path / "export.csv"
    generate("insurance_customers", 300, 4).to_csv(source, index=False)
    result = ap.run_policy(variant(tmp_path, privacy__k=2), source=source, workdir=tmp_path / "a")
    assert result.released and threads["overlapped"]
    assert threads["report"] is not threading.main_thread()
    assert (tmp_path / "a" / "insurance_customers" / "reports" / "anonymity_report.json").is_file()


@pytest.mark.parametrize("k, raised", [(5000, False), (2, True)])
def test_a_report_computed_ahead_fails_the_run_only_where_the_plain_loop_would_have_run_it(tmp_path, monkeypatch,
                                                                                           k, raised):
    import anon_pipeline.pipeline.graph as graph_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("report")

    monkeypatch.setattr(graph_module, "anonymity_report", broken)
    source = tmp_path / "export.csv"
    generate("insurance_customers", 200, 4).to_csv(source, index=False)
    policy_file = variant(tmp_path, privacy__k=k)
    if raised:
        # As the plain loop raises it: typed as an internal error standing for the report's own exception.
        with pytest.raises(InternalError) as caught:
            ap.run_policy(policy_file, source=source, workdir=tmp_path / "a")
        assert isinstance(caught.value.original, ZeroDivisionError)
    else:
        # K is unmet: the plain loop never runs the report, so its error (computed ahead) is dropped with it.
        result = ap.run_policy(policy_file, source=source, workdir=tmp_path / "a")
        assert not result.released and result.checks["k_anonymity"] is False
    reports = tmp_path / "a" / "insurance_customers" / "reports"
    assert not (reports / "anonymity_report.json").exists()
