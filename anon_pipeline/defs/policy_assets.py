"""The asset graph of one policy, built from the core's stages. No anonymisation logic lives here.

    raw -> qi_table -> anonymised + key_tables -> anonymity_report, utility_report -> release

Every key is prefixed with the policy name. Blocking checks (ERROR severity) on ``raw``, ``qi_table`` and
``anonymised`` keep ``release`` from running when they fail.
"""


from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from anon_pipeline.dp.ledger import charge_plan
from anon_pipeline.errors import BlockingCheckFailed, InputDataError
from anon_pipeline.pipeline.anonymise import anonymise, anonymised_schema, plan_summary
from anon_pipeline.pipeline.checks import (CheckOutcome, check_anonymised_schema, check_no_identifier_leak,
                                           check_privacy_targets, check_schema, planned_privacy_checks,
                                           staging_checks)
from anon_pipeline.pipeline.publish import release as publish_release
from anon_pipeline.pipeline.publish import write_key_tables, write_plan, write_reports
from anon_pipeline.pipeline.qi_table import build_qi_table, contract_of, qi_schema
from anon_pipeline.pipeline.raw_schema import validate_raw
from anon_pipeline.pipeline.source import SourceFile, read_source, resolve_source
from anon_pipeline.pipeline.workdir import PolicyDirs
from anon_pipeline.policy.model import Policy
from anon_pipeline.release import read_release_table
from anon_pipeline.reports import anonymity_markdown, anonymity_report, utility_markdown, utility_report
from anon_pipeline.defs.inbox_sensor import inbox_sensor
from anon_pipeline.defs.resources import AnonSettings
from anon_pipeline.defs.results import check_result, to_metadata


class RawConfig(dg.Config):
    """Run config of ``raw``: point the policy at another file (e.g. this month's export) without editing it."""

    source: str | None = None


def _typed_raw(descriptor: dict[str, Any], policy: Policy, cache: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The validated raw table. Several steps need it (schema check, qi_table, leak check, release); the raw asset
    stores no copy, so one run reads and validates it once and keeps only the latest file's table."""
    src = SourceFile(**descriptor)
    if src.sha256 not in cache:
        typed = validate_raw(read_source(src, policy), policy, src.path)
        cache.clear()
        cache[src.sha256] = typed
    return cache[src.sha256]


def policy_definitions(policy: Policy) -> dict[str, list]:
    """Assets, checks, the job, and the optional schedule and inbox sensor of one policy."""
    name = policy.name
    raw_cache: dict[str, pd.DataFrame] = {}
    key = lambda asset: dg.AssetKey([name, asset])  # noqa: E731
    group = name

    @dg.asset(key=key("raw"), group_name=group, description="The source file as it is: a descriptor (path, "
              "SHA-256, size) only, so no copy of the personal data enters the asset store.")
    def raw(context: dg.AssetExecutionContext, config: RawConfig, anon: AnonSettings) -> dict:
        src = resolve_source(policy, config.source, anon.workdir)
        context.add_output_metadata({"bytes": src.n_bytes, "format": src.format, "sha256": src.sha256,
                                     "generated_sample": src.generated})
        return src.as_dict()

    @dg.asset_check(asset=raw, name="raw_schema", blocking=True,
                    description="Types and rules the policy declares for every input column.")
    def raw_schema_check(raw: dict) -> dg.AssetCheckResult:
        try:
            typed = _typed_raw(raw, policy, raw_cache)
        except InputDataError as exc:
            problems = getattr(exc, "problems", None) or [{"column": exc.column, "rule": exc.rule,
                                                           "n_rows": exc.n_rows, "hint": exc.hint}]
            return check_result(CheckOutcome("raw_schema", False, True, f"{len(problems)} rule(s) broken",
                                             {"problems": problems}))
        return check_result(CheckOutcome("raw_schema", True, True, "conforms to the policy",
                                         {"rows": len(typed), "columns": len(typed.columns)}))

    @dg.asset(key=key("qi_table"), group_name=group, ins={"raw": dg.AssetIn(key("raw"))},
              description="Identifiers dropped, a fresh random GUID per row, pandera-validated.")
    def qi_table(context: dg.AssetExecutionContext, raw: dict) -> pd.DataFrame:
        table, _contract = build_qi_table(_typed_raw(raw, policy, raw_cache), policy)
        context.add_output_metadata({"rows": len(table), "columns": list(table.columns)})
        return table

    @dg.asset_check(asset=qi_table, name="qi_table_schema", blocking=True)
    def qi_table_check(qi_table: pd.DataFrame) -> dg.AssetCheckResult:
        return check_result(check_schema("qi_table", qi_table, qi_schema(policy)))

    @dg.multi_asset(
        outs={"anonymised": dg.AssetOut(key=key("anonymised"), group_name=group,
                                        description="Staging table: every op chain applied; checked before release."),
              "key_tables": dg.AssetOut(key=key("key_tables"), group_name=group,
                                        description="Key tables (code -> value), kept apart from the release."),
              "generalised": dg.AssetOut(key=key("generalised"), group_name=group,
                                         description="After every column's steps, before group steps (synthesis, "
                                                     "lattice search): what synthesised groups are measured against.")},
        ins={"qi_table": dg.AssetIn(key("qi_table"))}, name=f"{name}__anonymise")
    def anonymised_and_keys(context: dg.AssetExecutionContext, qi_table: pd.DataFrame, anon: AnonSettings):
        result = anonymise(qi_table, policy)
        dirs = PolicyDirs.for_policy(anon.workdir, name)
        charge_plan(policy, result.plan, result.plan_id, dirs.root.parent)  # DP spend: refused before any write
        folder = write_key_tables(dirs, result.key_tables, result.plan_id)
        # The plan holds the codes of encode ops: it is as secret as the key tables, so it lives with them.
        write_plan(folder, result.plan)
        yield dg.Output(result.table, "anonymised",
                        metadata={"rows": len(result.table), "suppressed_rows": result.suppressed_rows,
                                  "columns": list(result.table.columns)})
        yield dg.Output({"tables": {n: len(t) for n, t in result.key_tables.items()}, "plan_id": result.plan_id,
                         "plan_summary": plan_summary(result.plan)}, "key_tables",
                        metadata={"folder": str(folder), "tables": sorted(result.key_tables)})
        yield dg.Output(result.generalised, "generalised", metadata={"rows": len(result.generalised)})

    anonymised_key = key("anonymised")

    @dg.asset_check(asset=anonymised_key, name="anonymised_schema", blocking=True)
    def anonymised_schema_check(anonymised: pd.DataFrame) -> dg.AssetCheckResult:
        return check_result(check_anonymised_schema(anonymised, policy))

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(check_name, asset=anonymised_key, blocking=blocking,
                                 description="k-anonymity over " + ", ".join(policy.k_quasi_identifiers)
                                 if check_name == "k_anonymity" else f"privacy target {check_name}")
               for check_name, blocking in planned_privacy_checks(policy)],
        name=f"{name}__privacy_targets", ins={"anonymised": dg.AssetIn(anonymised_key)})
    def privacy_checks(anonymised: pd.DataFrame):
        for outcome in check_privacy_targets(anonymised, policy):
            yield dg.AssetCheckResult(asset_key=anonymised_key, check_name=outcome.name, passed=outcome.passed,
                                      severity=check_result(outcome).severity, description=outcome.description,
                                      metadata=check_result(outcome).metadata)

    @dg.asset_check(asset=anonymised_key, name="no_identifier_leak", blocking=True,
                    additional_ins={"raw": dg.AssetIn(key("raw"))},
                    description="No value of a direct-identifier column of the input occurs in the table.")
    def leak_check(anonymised: pd.DataFrame, raw: dict) -> dg.AssetCheckResult:
        return check_result(check_no_identifier_leak(_typed_raw(raw, policy, raw_cache), anonymised, policy))

    def _report_asset(report_name: str, build, markdown):
        @dg.asset(key=key(report_name), group_name=group,
                  ins={"qi_table": dg.AssetIn(key("qi_table")), "anonymised": dg.AssetIn(anonymised_key),
                       "generalised": dg.AssetIn(key("generalised")), "key_tables": dg.AssetIn(key("key_tables"))})
        def _report(context: dg.AssetExecutionContext, qi_table: pd.DataFrame, anonymised: pd.DataFrame,
                    generalised: pd.DataFrame, key_tables: dict, anon: AnonSettings) -> dict:
            doc = build(qi_table, anonymised, policy, generalised, key_tables.get("plan_summary"))
            paths = write_reports(PolicyDirs.for_policy(anon.workdir, name), {report_name: doc})
            context.add_output_metadata({"report": dg.MetadataValue.md(markdown(doc)),
                                         "path": str(paths[report_name])})
            return doc
        return _report

    anonymity_asset = _report_asset("anonymity_report", anonymity_report, anonymity_markdown)
    utility_asset = _report_asset("utility_report", utility_report, utility_markdown)

    @dg.asset(key=key("release"), group_name=group,
              ins={"raw": dg.AssetIn(key("raw")), "qi_table": dg.AssetIn(key("qi_table")),
                   "anonymised": dg.AssetIn(anonymised_key),
                   "anonymity": dg.AssetIn(key("anonymity_report")), "utility": dg.AssetIn(key("utility_report")),
                   "key_tables": dg.AssetIn(key("key_tables"))},
              description="The versioned, read-only release; written only when every blocking check passed.")
    def release(context: dg.AssetExecutionContext, raw: dict, qi_table: pd.DataFrame, anonymised: pd.DataFrame,
                anonymity: dict, utility: dict, key_tables: dict, anon: AnonSettings) -> str:
        # The checks run again here, so even a release materialised on its own never publishes a failing table.
        outcomes = staging_checks(_typed_raw(raw, policy, raw_cache), anonymised, policy)
        try:
            folder = publish_release(anonymised, {"anonymity_report": anonymity, "utility_report": utility},
                                     outcomes, policy, PolicyDirs.for_policy(anon.workdir, name),
                                     source_sha256=raw.get("sha256"), contract=contract_of(qi_table),
                                     plan_id=key_tables.get("plan_id"))
        except BlockingCheckFailed as exc:
            raise dg.Failure(description=str(exc)) from None
        context.add_output_metadata({"release_dir": str(folder), "rows": len(anonymised),
                                     **to_metadata({o.name: o.metadata.get("measured") for o in outcomes
                                                    if "measured" in o.metadata})})
        return str(folder)

    @dg.asset_check(asset=release, name="release_schema", blocking=True)
    def release_check(release: str) -> dg.AssetCheckResult:
        frame = read_release_table(Path(release))
        return check_result(check_schema("release", frame, anonymised_schema(policy)))

    assets = [raw, qi_table, anonymised_and_keys, anonymity_asset, utility_asset, release]
    checks = [raw_schema_check, qi_table_check, anonymised_schema_check, privacy_checks, leak_check, release_check]
    job = dg.define_asset_job(f"{name}_job", selection=dg.AssetSelection.key_prefixes([name]),
                              description=f"Every asset and check of policy '{name}'.")
    schedules = [dg.ScheduleDefinition(name=f"{name}_schedule", job=job, cron_schedule=policy.schedule)] \
        if policy.schedule else []
    sensors = [inbox_sensor(policy, job)] if policy.source.inbox else []
    return {"assets": assets, "asset_checks": checks, "jobs": [job], "schedules": schedules, "sensors": sensors}
