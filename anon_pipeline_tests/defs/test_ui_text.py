"""What the Dagster UI shows a new user: a description on every asset and check in the release's column names,
a failing check's broken rules and hints in its description and as the run's first error, no repeated metadata."""

from __future__ import annotations

import logging

import dagster as dg
import pandas as pd

from anon_pipeline.defs.build import build_definitions
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import BUNDLED, variant


def test_every_asset_and_check_has_a_description_in_output_names(tmp_path):
    defs = build_definitions([BUNDLED], workdir=str(tmp_path))
    specs = [s for s in defs.resolve_all_asset_specs() if s.key.path[0] == "insurance_customers"]
    assert len(specs) == 7 and all(s.description for s in specs), [s.key for s in specs if not s.description]
    graph = defs.resolve_asset_graph()
    checks = {key.name: graph.get_check_spec(key).description for key in graph.asset_check_keys}
    assert {"raw_schema", "qi_table_schema", "anonymised_schema", "k_anonymity", "no_identifier_leak",
            "release_schema"} <= set(checks) and all(checks.values()), checks
    assert "gender, age_band" in checks["k_anonymity"] and "birthdate" not in checks["k_anonymity"]
    report = next(s for s in specs if s.key.path[-1] == "anonymity_report")
    assert "gender, age_band" in report.description


def _events(tmp_path, policy, run_config):
    defs = build_definitions([policy], workdir=str(tmp_path / "w"))
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("insurance_customers_job").execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config)
    return result, instance.all_logs(result.run_id)


def test_a_failing_raw_schema_check_shows_its_rules_and_hints_first(tmp_path):
    table = generate("insurance_customers", 120, 5).astype("str")
    table["birthdate"] = pd.to_datetime(table["birthdate"]).dt.strftime("%d/%m/%Y")
    source = tmp_path / "export.csv"
    table.to_csv(source, index=False)
    result, logs = _events(tmp_path, BUNDLED, {"ops": {"insurance_customers__raw": {"config": {"source": str(source)}}}})
    assert not result.success
    evaluation = next(e.asset_check_evaluation_data for e in result.all_events
                      if e.event_type_value == "ASSET_CHECK_EVALUATION")
    assert evaluation.check_name == "raw_schema" and not evaluation.passed
    assert "column 'birthdate', rule 'dtype date" in evaluation.description
    assert "120 row(s), the first at data row 1 (hint: the dates look day-first (DD/MM/YYYY): set date_format: '%d/%m/%Y'" \
        in evaluation.description
    first_error = next(entry for entry in logs if entry.level >= logging.ERROR)
    assert "raw_schema" in first_error.user_message and "column 'birthdate'" in first_error.user_message
    # The step fails in the check's words, not with Dagster's stack trace for a failed blocking check.
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    assert "blocking check(s) failed" in error.message and "column 'birthdate', rule 'dtype date" in error.message
    assert "DagsterAssetCheckFailedError" not in error.message
    dates = set(table["birthdate"])
    assert not any(d in entry.user_message for entry in logs for d in dates)


def test_check_metadata_has_no_repeated_figures(tmp_path):
    result, _ = _events(tmp_path, variant(tmp_path, privacy__k=2), {})
    k_eval = next(e.asset_check_evaluation_data for e in result.all_events
                  if e.event_type_value == "ASSET_CHECK_EVALUATION"
                  and e.asset_check_evaluation_data.check_name == "k_anonymity")
    assert k_eval.passed and {"measured", "target"} <= set(k_eval.metadata)
    assert not {"K", "k_target"} & set(k_eval.metadata)
    assert "age_band" in k_eval.description
    utility = next(e.event_specific_data.materialization for e in result.all_events
                   if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path[-1] == "utility_report")
    plots = utility.metadata["distributions"].value
    assert plots.count("](data:image/png;base64,") == 12  # every released column of the bundled policy


def test_the_job_default_run_config_shows_where_to_point_the_run(tmp_path):
    from anon_pipeline.defs.policy_assets import RawConfig

    defs = build_definitions([BUNDLED], workdir=str(tmp_path))
    job = defs.resolve_job_def("insurance_customers_job")
    assert job.run_config == {"ops": {"insurance_customers__raw": {"config": {"source": None}}}}
    assert "instead of the policy's source" in RawConfig.model_fields["source"].description
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success  # the default (no source) runs the policy's own source


def test_the_bundled_monthly_policy_shows_a_schedule_and_an_inbox_sensor(tmp_path):
    import yaml

    from anon_pipeline.policy import load_policy
    from anon_pipeline_tests.pipeline.policies import ROOT

    monthly_file = ROOT / "policies" / "insurance_customers_monthly.yaml"
    monthly, bundled = (yaml.safe_load(f.read_text()) for f in (monthly_file, BUNDLED))
    differing = {k for k in monthly.keys() | bundled.keys() if monthly.get(k) != bundled.get(k)}
    assert differing == {"name", "description", "source", "schedule"}  # a copy kept in step with the original
    inbox = load_policy(monthly_file).base_dir / monthly["source"]["inbox"]
    assert inbox.is_dir() and (inbox / ".gitignore").read_text().splitlines()[1:] == ["*", "!.gitignore"]
    defs = build_definitions([monthly_file], workdir=str(tmp_path))
    schedule = defs.resolve_schedule_def("insurance_customers_monthly_schedule")
    sensor = defs.resolve_sensor_def("insurance_customers_monthly_inbox_sensor")
    assert schedule.cron_schedule == "0 6 1 * *" and schedule.job_name == "insurance_customers_monthly_job"
    assert schedule.default_status.value == sensor.default_status.value == "STOPPED"


def test_the_release_page_leads_with_its_warnings_and_raw_names_its_file(tmp_path):
    """The bundled policy's k target covers two quasi-identifiers; K over all of them misses it, a warning. The
    release asset says so in a table of its checks, failures first, and counts its warnings; raw names the file it
    read (a run config's file, here)."""
    source = tmp_path / "export.csv"
    generate("insurance_customers", 1000, 7).to_csv(source, index=False)   # the bundled sample: K >= 10
    result, _ = _events(tmp_path, BUNDLED, {"ops": {"insurance_customers__raw": {"config": {"source": str(source)}}}})
    assert result.success
    materialised = {e.asset_key.path[-1]: e.event_specific_data.materialization.metadata for e in result.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert materialised["raw"]["path"].value == str(source)
    release = materialised["release"]
    table = release["checks"].value.splitlines()
    assert table[:2] == ["| check | result | what was measured |", "|---|---|---|"]
    assert table[2].startswith("| all_quasi_identifiers | **warning**: failed, not blocking | K = 1 < k = 10")
    assert all("| passed |" in row for row in table[3:]) and release["warnings"].value == 1


def test_metadata_leaves_out_empty_lists_and_null_fields():
    """A passing schema check's empty ``problems`` and a problem's ``"hint": null`` are noise behind a click, and
    a risk of 1/19 in seventeen figures reads as noise too."""
    from anon_pipeline.defs.results import to_metadata

    shown = to_metadata({"problems": [], "columns": [], "n": 0, "rules": [{"rule": "dtype int", "hint": None}],
                         "risk": 1 / 19})
    assert set(shown) == {"n", "rules", "risk"} and shown["n"] == 0 and shown["risk"] == 0.0526316
    assert shown["rules"].value == [{"rule": "dtype int"}]
