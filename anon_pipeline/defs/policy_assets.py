"""The asset graph of one policy: each stage of the core's stage graph becomes a (multi-)asset, and each check an
asset check computed in the step of the stage that makes the output it checks. Nothing else lives here: no
anonymisation logic, no second copy of the stage order.

Checks share their stage's step because a Dagster step has a fixed cost (its events, input loads and output
records): six check steps of their own cost about 0.2-0.3 s per run whatever the table's size. The price is that a
check cannot be run without its asset. Every key is prefixed with the policy name. A failing blocking check (ERROR
severity) fails its step once the outputs are stored and every check is recorded, with a ``dg.Failure`` that gives
its broken rules, and Dagster skips every asset downstream, so ``release`` never runs after one.
"""

import warnings
from datetime import date, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from anon_pipeline.defs.inbox_sensor import inbox_sensor
from anon_pipeline.defs.resources import AnonSettings, DaskCluster
from anon_pipeline.defs.results import check_result, to_metadata
from anon_pipeline.errors import BlockingCheckFailed
from anon_pipeline.pipeline.graph import Check, Markdown, Run, Stage, run_stage, stage_graph
from anon_pipeline.pipeline.memory import release_freed_memory
from anon_pipeline.pipeline.staging_claim import StagingInUse, claim_file, claim_staging
from anon_pipeline.policy.model import Policy


class RawConfig(dg.Config):
    """Run config of ``raw``: point the policy at another file (e.g. this month's export) without editing it."""

    source: str | None = Field(
        None, description="A CSV or parquet file to read instead of the policy's source (e.g. this month's export); "
        "empty: the policy's own source. The policy file is not changed.")


#: Executors that run every step of a run in the run's process (``execute_in_process`` and ``dg.materialize`` use
#: the second): the steps after the qi pass find its counts in memory, so nothing is sealed for other processes.
_IN_PROCESS = {dg.in_process_executor.name, "execute_in_process_executor"}


def _metadata(values: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in values.items() if not isinstance(v, Markdown)}
    return {**to_metadata(plain), **{k: dg.MetadataValue.md(v) for k, v in values.items() if isinstance(v, Markdown)}}


def partitions_definition(policy: Policy) -> dg.PartitionsDefinition | None:
    """The policy's ``partitions:`` as Dagster partitions; keys are the core's (``2024-03``, ``2024-03-05``)."""
    spec = policy.partitions
    if spec is None:
        return None
    if spec.kind == "static":
        return dg.StaticPartitionsDefinition(list(spec.static or ()))
    timed = spec.monthly or spec.daily
    assert timed is not None  # PartitionsSpec gives a monthly or daily range unless static
    end: str | None = None
    if spec.kind == "monthly":
        # Dagster's end date is exclusive: the month after the last one.
        if timed.end:
            year, month = map(int, timed.end.split("-"))
            end = f"{year + month // 12}-{month % 12 + 1:02d}"
        return dg.MonthlyPartitionsDefinition(start_date=timed.start, fmt="%Y-%m", end_date=end)
    if timed.end:
        end = (date.fromisoformat(timed.end) + timedelta(days=1)).isoformat()
    return dg.DailyPartitionsDefinition(start_date=timed.start, end_date=end)


def _partition(context) -> str | None:
    return context.partition_key if context.has_partition_key else None


def _in_progress(instance: dg.DagsterInstance):
    """Whether the instance knows a run of this id that has not ended (one it does not know blocks nothing)."""
    def check(run_id: str) -> bool:
        found = instance.get_run_by_id(run_id)
        return found is not None and not found.is_finished
    return check


def _asset(policy: Policy, stage: Stage, checks: list[Check], partitions: dg.PartitionsDefinition | None):
    """The stage as one op: its outputs, then the checks of those outputs in the same step, in the order
    ``pipeline.run.walk`` runs them. A failing blocking check fails the step after its outputs are stored, so Dagster
    skips everything downstream."""
    key = lambda name: dg.AssetKey([policy.name, name])  # noqa: E731
    outs = {o.name: dg.AssetOut(key=key(o.name), group_name=policy.name, description=o.description)
            for o in stage.outputs}
    extra = [e for e in dict.fromkeys(e for c in checks for e in c.extra) if e not in stage.inputs]
    ins = {name: dg.AssetIn(key(name)) for name in (*stage.inputs, *extra)}
    with warnings.catch_warnings():
        # Partitioned checks are a Dagster preview (1.13); they are what shows a check's result per partition.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        specs = [dg.AssetCheckSpec(s.name, asset=key(c.on), blocking=s.blocking, description=s.description,
                                   additional_deps=[key(name) for name in c.extra], partitions_def=partitions)
                 for c in checks for s in c.specs]

    def compute(context: dg.AssetExecutionContext, anon: AnonSettings, cluster: DaskCluster, source: str | None,
                inputs: dict):
        run = Run(policy, workdir=anon.workdir, source=source, partition=_partition(context), ui=True,
                  batch_rows=anon.batch_rows,
                  engine=cluster.engine, scheduler=cluster.scheduler_address,
                  one_process=context.job_def.executor_def.name in _IN_PROCESS)
        try:
            claim_staging(run.staging_dir, claim_file(run.dirs.root, run.partition), context.run.run_id,
                          _in_progress(context.instance), policy.name)
        except StagingInUse as exc:
            raise dg.Failure(description=str(exc)) from None
        try:
            produced = run_stage(stage, run, inputs)
            release_freed_memory()
        except BlockingCheckFailed as exc:
            raise dg.Failure(description=str(exc)) from None
        for name, out in produced.items():
            yield dg.Output(out.value, name, metadata=_metadata(out.metadata))
        values = {**inputs, **{name: out.value for name, out in produced.items()}}
        blocked: list[str] = []
        for check in checks:
            outcomes = check.fn(run, values[check.on], **{name: values[name] for name in check.extra})
            release_freed_memory()
            run.record(values[check.on], outcomes)  # the release asset, in this process, need not measure again
            for outcome in outcomes:
                result = check_result(outcome, context, asset_key=key(check.on), check_name=outcome.name)
                yield result
                if outcome.blocking and not outcome.passed:
                    blocked.append(f"{outcome.name}: {result.description}")
        if blocked:
            # The step fails in our words (the check and its broken rules), not with Dagster's own stack trace for
            # a failed blocking check; Dagster still skips everything downstream.
            raise dg.Failure(description="blocking check(s) failed, nothing downstream runs:\n" + "\n".join(blocked))

    name = f"{policy.name}__{stage.name}"
    if stage.takes_source:
        @dg.multi_asset(outs=outs, ins=ins, name=name, partitions_def=partitions, check_specs=specs)
        def _with_source(context: dg.AssetExecutionContext, config: RawConfig, anon: AnonSettings,
                         cluster: DaskCluster, **inputs):
            yield from compute(context, anon, cluster, config.source, inputs)
        return _with_source

    @dg.multi_asset(outs=outs, ins=ins, name=name, partitions_def=partitions, check_specs=specs)
    def _stage(context: dg.AssetExecutionContext, anon: AnonSettings, cluster: DaskCluster, **inputs):
        yield from compute(context, anon, cluster, None, inputs)
    return _stage


def policy_definitions(policy: Policy) -> dict[str, list]:
    """Assets (each with the checks of its outputs), the job, and the optional schedule and inbox sensor of one
    policy."""
    graph = stage_graph(policy)
    partitions = partitions_definition(policy)
    assets = [_asset(policy, stage, [c for o in stage.outputs for c in graph.checks_on(o.name)], partitions)
              for stage in graph.stages]
    source_ops = [a.op.name for a, s in zip(assets, graph.stages) if s.takes_source]
    # The default run config shows the launchpad where to point a run at another file.
    job = dg.define_asset_job(f"{policy.name}_job", selection=dg.AssetSelection.key_prefixes([policy.name]),
                              description=f"Every asset and check of policy '{policy.name}'.",
                              config={"ops": {op: {"config": {"source": None}} for op in source_ops}})
    schedules = [_schedule(policy, job, partitions)] if policy.schedule else []
    sensors = [inbox_sensor(policy, job)] if policy.source.inbox else []
    return {"assets": assets, "jobs": [job], "schedules": schedules, "sensors": sensors}


def _schedule(policy: Policy, job, partitions: dg.PartitionsDefinition | None):
    """The policy's cron; for monthly or daily partitions, Dagster's partitioned schedule, which runs the period
    that has just ended at the cron's minute and hour (and day of the month)."""
    name = f"{policy.name}_schedule"
    assert policy.schedule is not None  # made only for a policy with a schedule
    if partitions is None or policy.partitions is None:
        return dg.ScheduleDefinition(name=name, job=job, cron_schedule=policy.schedule)
    at = [int(v) if v.isdigit() else None for v in policy.schedule.split()[:3]]
    minute, hour, day = at + [None] * (3 - len(at))
    return dg.build_schedule_from_partitioned_job(job, name=name, minute_of_hour=minute, hour_of_day=hour,
                                                  day_of_month=None if policy.partitions.kind == "daily" else day)
