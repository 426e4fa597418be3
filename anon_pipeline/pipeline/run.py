"""``run_policy``: the whole pipeline in plain Python, the same stages the Dagster assets call.

For notebooks, scripts and external checks: no Dagster instance needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from anon_pipeline.dp.ledger import charge_plan
from anon_pipeline.errors import BlockingCheckFailed
from anon_pipeline.pipeline.anonymise import anonymise, plan_summary
from anon_pipeline.pipeline.checks import CheckOutcome, staging_checks
from anon_pipeline.pipeline.publish import release, write_key_tables, write_plan, write_reports
from anon_pipeline.pipeline.qi_table import build_qi_table
from anon_pipeline.pipeline.raw_schema import validate_raw
from anon_pipeline.pipeline.source import read_source, resolve_source
from anon_pipeline.pipeline.workdir import PolicyDirs
from anon_pipeline.policy import Policy, load_policy
from anon_pipeline.reports import anonymity_report, utility_report


@dataclass
class RunResult:
    policy: str
    anonymised: pd.DataFrame
    key_tables: dict[str, pd.DataFrame]
    anonymity: dict[str, Any]
    utility: dict[str, Any]
    checks: dict[str, bool]
    check_details: list[CheckOutcome]
    released: bool
    release_dir: Path | None
    workdir: Path
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_checks(self) -> dict[str, str]:
        return {o.name: o.failure_reason() for o in self.check_details if o.blocking and not o.passed}


def run_policy(policy_path: str | Path | Policy, source: str | Path | None = None,
               workdir: str | Path | None = None) -> RunResult:
    """Run a policy end to end. Input that breaks the raw schema raises ``InputDataError``; a failed blocking
    check returns ``released=False`` and leaves any earlier release untouched."""
    policy = policy_path if isinstance(policy_path, Policy) else load_policy(policy_path)
    dirs = PolicyDirs.for_policy(workdir, policy.name)
    src = resolve_source(policy, source, workdir)
    raw = validate_raw(read_source(src, policy), policy, src.path)
    qi_table, contract = build_qi_table(raw, policy)
    result = anonymise(qi_table, policy)
    charge_plan(policy, result.plan, result.plan_id, dirs.root.parent)  # DP spend: refused before any write
    anonymity = {**anonymity_report(qi_table, result.table, policy, result.generalised, plan_summary(result.plan)),
                 "source_sha256": src.sha256}
    utility = utility_report(qi_table, result.table, policy, result.generalised)
    write_reports(dirs, {"anonymity_report": anonymity, "utility_report": utility})
    write_plan(write_key_tables(dirs, result.key_tables, result.plan_id), result.plan)
    outcomes = staging_checks(raw, result.table, policy)
    try:
        release_dir: Path | None = release(result.table, {"anonymity_report": anonymity, "utility_report": utility},
                                           outcomes, policy, dirs, source_sha256=src.sha256,
                                           contract=contract, plan_id=result.plan_id)
    except BlockingCheckFailed:
        release_dir = None
    k_meta = next(o.metadata for o in outcomes if o.name == "k_anonymity")
    everything = anonymity["all_quasi_identifiers"]
    return RunResult(
        policy=policy.name, anonymised=result.table, key_tables=result.key_tables,
        anonymity={"K": k_meta["K"], "k_percent": k_meta["k_percent"], "k_target": k_meta["k_target"],
                   "quasi_identifiers": k_meta["quasi_identifiers"], "report": anonymity,
                   "all_quasi_identifiers": everything,
                   "targets": {o.name: {"passed": o.passed, "measured": o.metadata.get("measured"),
                                        "target": o.metadata.get("target")} for o in outcomes[2:]}},
        utility=utility, checks={o.name: o.passed for o in outcomes}, check_details=outcomes,
        released=release_dir is not None, release_dir=release_dir, workdir=dirs.root, plan=result.plan)
