"""``run_policy``: the whole pipeline in plain Python, walking the same stage graph as the Dagster assets.

For notebooks, scripts and external checks: no Dagster instance needed. Tables pass between stages as
descriptors of sealed staged tables (``pipeline.staged``) in a staging folder of the run's own, removed with its
result; a failing blocking check skips every stage downstream of what it checked, as in Dagster.
"""

from __future__ import annotations

import secrets
import shutil
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from anon_pipeline.errors import AnonPipelineError, BlockingCheckFailed, PolicyError, raises_typed
from anon_pipeline.pipeline.checks import CheckOutcome
from anon_pipeline.pipeline.collector import skip_exit_collections
from anon_pipeline.pipeline.memory import release_freed_memory
from anon_pipeline.pipeline.graph import Check, Run, blocked, keep_stage, run_stage, stage_graph
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.workdir import make_dir
from anon_pipeline.policy import Policy, load_policy
from anon_pipeline.policy.model import PlanReuse


@dataclass
class RunResult:
    policy: str
    #: The anonymised (staging) table, encrypted on disk until the result is dropped: ``anonymised`` reads it.
    staged: StagedTable | None
    key_tables: dict[str, pd.DataFrame]
    anonymity: dict[str, Any]
    utility: dict[str, Any]
    checks: dict[str, bool]
    check_details: list[CheckOutcome]
    released: bool
    release_dir: Path | None
    workdir: Path
    plan: dict[str, Any] = field(default_factory=dict)
    plan_id: str | None = None
    plan_reused: bool = False
    partition: str | None = None

    @cached_property
    def anonymised(self) -> pd.DataFrame:
        """The anonymised table in memory (read from staging on first use: a large table costs its memory)."""
        return self.staged.frame() if self.staged is not None else pd.DataFrame()

    @property
    def failed_checks(self) -> dict[str, str]:
        return {o.name: o.failure_reason() for o in self.check_details if o.blocking and not o.passed}


@raises_typed
def run_policy(policy_path: str | Path | Policy, source: str | Path | None = None,
               workdir: str | Path | None = None, partition: str | None = None,
               plan: str | None = None, batch_rows: int | None = None, engine: str = "streaming",
               scheduler: str | None = None) -> RunResult:
    """Run a policy end to end: ``partition`` names the partition of a partitioned policy (its source file and
    release folder); ``plan`` (``refit``, ``latest`` or a plan id) overrides the policy's ``plan:``;
    ``batch_rows`` overrides the policy's ``source.batch_rows`` (rows per batch of the streaming engine);
    ``engine="dask"`` runs the qi and apply passes on the Dask cluster at ``scheduler`` (default: Dask's
    configuration, else a LocalCluster started and closed here).

    Input that breaks the raw schema raises ``InputDataError``; a failed blocking check returns ``released=False``
    and leaves any earlier release untouched. Every failure leaves as an ``AnonPipelineError``: an ``OSError``
    from the machine as ``RunEnvironmentError``, anything unexpected as ``InternalError`` (type and place only;
    the original is in its ``original`` attribute)."""
    skip_exit_collections()
    policy = policy_path if isinstance(policy_path, Policy) else load_policy(policy_path)
    if plan is not None:
        policy = with_plan(policy, plan)
    run = Run(policy, workdir=workdir, source=source, partition=partition, batch_rows=batch_rows, engine=engine,
              scheduler=scheduler, one_process=True)
    if scheduler is not None and engine != "dask":
        raise AnonPipelineError(f"a scheduler (--scheduler, scheduler=) is for engine 'dask' only, and this run's "
                                f"engine is '{engine}': add --engine dask (engine='dask'), or leave the scheduler out")
    if engine != "streaming":
        from anon_pipeline.pipeline.dask_engine import check_engine

        check_engine(engine, policy)
    # The run's tables are staged (encrypted) in a folder of its own, removed with the result.
    run.staging = make_dir(run.dirs.staging / f"run-{secrets.token_hex(8)}")
    try:
        with ExitStack() as stack:
            if engine == "dask":
                from anon_pipeline.pipeline.dask_engine import connect

                run.client = stack.enter_context(connect(scheduler))
            values, outcomes = walk(run)
    except BaseException:
        shutil.rmtree(run.staging, ignore_errors=True)
        raise
    k_meta = next((o.metadata for o in outcomes if o.name == "k_anonymity"), {})
    anonymity = values.get("anonymity_report")
    result = RunResult(
        policy=policy.name, staged=StagedTable.of(values["anonymised"]) if "anonymised" in values else None,
        key_tables=run.fitted.key_tables if run.fitted else {},
        anonymity={"K": k_meta.get("K"), "k_percent": k_meta.get("k_percent"), "k_target": k_meta.get("k_target"),
                   "quasi_identifiers": k_meta.get("quasi_identifiers"), "report": anonymity,
                   "all_quasi_identifiers": anonymity["all_quasi_identifiers"] if anonymity else _wide(outcomes),
                   "targets": {o.name: {"passed": o.passed, "measured": o.metadata.get("measured"),
                                        "target": o.metadata.get("target")}
                               for o in outcomes if "target" in o.metadata}},
        utility=values.get("utility_report") or {}, checks={o.name: o.passed for o in outcomes},
        check_details=outcomes, released="release" in values,
        release_dir=Path(values["release"]) if "release" in values else None, workdir=run.dirs.root,
        plan=run.fitted.plan if run.fitted else {}, plan_id=values.get("key_tables", {}).get("plan_id"),
        plan_reused=values.get("key_tables", {}).get("plan_reused", False), partition=partition)
    weakref.finalize(result, shutil.rmtree, run.staging, True)
    return result


def with_plan(policy: Policy, plan: str) -> Policy:
    """``policy`` with its ``plan:`` replaced: ``refit``, ``latest`` or a plan id."""
    try:
        choice = "refit" if plan == "refit" else PlanReuse(reuse=plan)
    except ValidationError as exc:
        raise PolicyError(policy.path, exc.errors()[0]["msg"], field="plan") from None
    return policy.model_copy(update={"plan": choice})


def _wide(outcomes: list[CheckOutcome]) -> dict[str, Any] | None:
    """Risk over every released quasi-identifier from the check, when the run stopped before the report."""
    check = next((o for o in outcomes if o.name == "all_quasi_identifiers"), None)
    if check is None:
        return None
    meta = check.metadata
    return {"K": meta["measured"], "quasi_identifiers": meta["quasi_identifiers"],
            "sample_unique_share": meta["sample_unique_share"], "prosecutor_risk_max": meta["prosecutor_risk_max"]}


def walk(run: Run) -> tuple[dict[str, Any], list[CheckOutcome]]:
    """Every stage of the graph in order, each check right after the value it checks. Returns the values of the
    stages that ran and every check outcome. A stage whose input failed a blocking check does not run; bad input
    (the raw schema's failure) raises its typed error, as ``run_policy`` documents. A check another stage proves
    (the raw schema, whose rules the qi pass enforces on every row) is counted once that stage succeeds.

    The next stage, when it has no effect until kept (``Stage.keep``: the reports) and its inputs are made, is
    computed in a second thread while the checks of the stage before are judged (on two cores the anonymity
    report and the identifier-leak check overlap); it is kept only if none of those checks blocks, so values,
    files and errors are those of the plain loop."""
    graph = stage_graph(run.policy)
    values: dict[str, Any] = {}
    outcomes: list[CheckOutcome] = []
    stopped: set[str] = set()
    deferred: dict[str, list[Check]] = {}
    # Leaving the pool waits for a stage computed ahead, so nothing of the run goes on after it (a dropped one too).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="anon-pipeline-ahead") as pool:
        ahead: dict[str, Future] = {}
        for i, stage in enumerate(graph.stages):
            computed = ahead.pop(stage.name, None)
            if stopped & set(stage.inputs) or not set(stage.inputs) <= set(values):
                stopped.update(o.name for o in stage.outputs)  # a stage computed ahead is dropped, error and all
                continue
            try:
                produced = keep_stage(stage, run, computed.result()) if computed is not None else \
                    run_stage(stage, run, values)
                release_freed_memory()
            except BlockingCheckFailed:
                # Only the release stage raises it: its own re-run of the checks failed, so nothing was written.
                stopped.update(o.name for o in stage.outputs)
                continue
            values.update({name: out.value for name, out in produced.items()})
            following = graph.stages[i + 1] if i + 1 < len(graph.stages) else None
            if following is not None and following.keep is not None and set(following.inputs) <= set(values) \
                    and not stopped & set(following.inputs):
                ahead[following.name] = pool.submit(following.fn, run,
                                                    **{name: values[name] for name in following.inputs})
            for name in produced:
                for check in deferred.pop(name, []):
                    outcomes.extend(proven(check, produced[name].metadata))
                for check in graph.checks_on(name):
                    if check.proven_by is not None:
                        deferred.setdefault(check.proven_by, []).append(check)
                        continue
                    found = check.fn(run, values[name], **{e: values[e] for e in check.extra})
                    release_freed_memory()
                    outcomes.extend(found)
                    run.record(values[name], found)
                    if blocked(found):
                        error = next((o.error for o in found if o.error is not None), None)
                        if error is not None:
                            raise error
                        stopped.add(name)
    return values, outcomes


def proven(check: Check, metadata: dict[str, Any]) -> list[CheckOutcome]:
    """Passing outcomes of a check whose rules the stage that made ``metadata`` enforced on every row."""
    return [CheckOutcome(spec.name, True, spec.blocking, "conforms to the policy (checked on every row while "
                         "the qi table was built)", {"rows": metadata.get("input_rows")}) for spec in check.specs]
