"""The stage graph of a policy run: the one list of stages and checks that ``run_policy`` and Dagster both walk.

    raw -> qi_table (+ contract) -> anonymised + key_tables (+ before_group_steps) -> anonymity_report, utility_report
        -> release

A stage is a plain function of the :class:`Run` and its inputs' values that returns its outputs' values (with
metadata: counts, column names, never data values). A check is a function of the run and the value it checks
(plus any other values it reads) that returns :class:`CheckOutcome` s. Tables travel as descriptors of staged
tables (``pipeline.staged``: sealed parts on disk, written and read batch by batch by the streaming engine,
``pipeline.stream``); small values (reports, key-table summaries) travel as they are. ``run_policy`` keeps the
values in memory, Dagster's IO manager in encrypted staging. In both, a failing blocking check skips every
stage downstream of the value it checked.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from anon_pipeline.attacks import render_markdown
from anon_pipeline.dp.aggregates import DrawnAggregates, draw_dp_aggregates, publish_dp_aggregates
from anon_pipeline.dp.ledger import charge_plan
from anon_pipeline.dp.run_cost import refuse_run_beyond_budget
from anon_pipeline.errors import InputDataError
from anon_pipeline.pipeline.anonymise import Anonymised, anonymised_schema, plan_summary
from anon_pipeline.pipeline.as_written import AsWritten, Batchwise, judged
from anon_pipeline.pipeline.checks import (CheckOutcome, check_anonymised_schema, check_no_identifier_leak,
                                           check_privacy_targets, check_schema, k_quasi_identifier_outputs,
                                           measured_columns, outcomes_markdown,
                                           planned_privacy_checks, privacy_check_description)
from anon_pipeline.pipeline.evaluation import (check_attack_targets, evaluate, hold_out_control,
                                               planned_attack_checks)
from anon_pipeline.pipeline.partitions import check_partition, partition_source
from anon_pipeline.pipeline.plans import check_rows, chosen_plan
from anon_pipeline.pipeline.publish import release, write_key_tables, write_plan, write_reports
from anon_pipeline.pipeline.guids import GuidPrefixes
from anon_pipeline.pipeline.qi_table import GUID, guid_column, qi_schema
from anon_pipeline.pipeline.qi_ahead import adopt, leave
from anon_pipeline.pipeline.source import SourceFile, resolve_source
from anon_pipeline.pipeline.staged import StagedTable, is_staged
from anon_pipeline.pipeline.table_counts import seal_counts, staged_counts
from anon_pipeline.pipeline.stream import (apply_streaming, engine_blockers, fit_streaming, leak_view,
                                           plan_key_tables, run_in_memory, stage_frame, stream_qi_table)
from anon_pipeline.pipeline.union import UNION_CHECK, check_union_k, union_anonymity, union_markdown
from anon_pipeline.workdir import PolicyDirs
from anon_pipeline.metrics.counted import TableCounts
from anon_pipeline.policy.model import Policy
from anon_pipeline.prefetch import prefetched
from anon_pipeline.release import iter_release_batches
from anon_pipeline.reports import anonymity_markdown, anonymity_report, utility_markdown, utility_report
from anon_pipeline.reports.plots import distributions_markdown


class Markdown(str):
    """Metadata text to be shown as markdown (Dagster renders it; ``run_policy`` keeps it as text)."""


@dataclass
class Out:
    """One output of a stage: its value and what may be said about it (counts, names, paths)."""

    value: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """What every stage of one run may use besides its inputs."""

    policy: Policy
    workdir: str | Path | None = None
    #: A file to read instead of the policy's source (``--source``, Dagster run config, the inbox sensor).
    source: str | Path | None = None
    #: The partition this run processes (a partitioned policy needs one): picks the source file, names the release.
    partition: str | None = None
    #: The fit of this run (plan, key tables), for callers that want more than the stage outputs.
    fitted: Anonymised | None = None
    #: The id of the stored plan ``anonymise`` replayed (``plan: {reuse: ...}``), None when it fitted one.
    replayed_plan: str | None = None
    #: Rows per batch of the streaming engine (default: the policy's ``source.batch_rows``).
    batch_rows: int | None = None
    #: Where this run stages its tables (encrypted parts); default: the policy's staging folder.
    staging: Path | None = None
    #: Metadata is shown in the Dagster UI: draw the plots (a second of matplotlib nobody sees otherwise).
    ui: bool = False
    #: ``streaming`` (this process) or ``dask`` (the qi and apply passes as tasks on a cluster: ``dask_engine``).
    engine: str = "streaming"
    #: The Dask scheduler's address (default: Dask's configuration, else a LocalCluster), and a client already
    #: connected for the whole run (``run_policy``); without one each stage connects on its own.
    scheduler: str | None = None
    client: Any = None
    #: Workers of the cluster the run used (the manifest records them).
    workers: int | None = None
    #: How the Dask engine split the source into qi tasks (the qi table's metadata): ``qi_tasks``, ``qi_split``.
    partitioning: dict[str, Any] = field(default_factory=dict)
    #: Every later stage of this run runs in this process (``run_policy``'s walk, Dagster's in-process executor),
    #: so what one keeps in memory the next finds; under another executor Dagster may run each step in a process
    #: of its own.
    one_process: bool = False

    @property
    def dirs(self) -> PolicyDirs:
        return PolicyDirs.for_policy(self.workdir, self.policy.name)

    @property
    def rows_per_batch(self) -> int:
        return self.batch_rows or self.policy.source.batch_rows

    @property
    def staging_dir(self) -> Path:
        if self.staging is not None:
            return self.staging
        staging = self.dirs.staging
        return staging / self.partition if self.partition is not None else staging

    def frame(self, staged: Any) -> pd.DataFrame:
        """A staged table in memory, read once however many reports and checks need it whole (also across the
        assets of one Dagster run in one process). Text columns come as categoricals (a small code per row;
        every measure reads them as the strings), and without the GUID, which no measure reads."""
        table = StagedTable.of(staged)
        found = _FRAMES.get(table.folder)
        if found is None:
            found = table.frame([c for c in table.columns if c != GUID], compact=True)
            _FRAMES.put(table.folder, found)
        return found

    def counts(self, staged: Any, names: str, joint: bool = True) -> TableCounts:
        """What the reports and privacy checks read of a staged table (``names``: ``"input"`` for the qi and
        before_group_steps tables, ``"output"`` for the anonymised one): the counts of its distinct rows over the
        columns the privacy checks measure (``checks.measured_columns``), and each column's value counts
        (``pipeline.table_counts``:
        one pass over its buckets, sealed beside them for the other assets). Its memory is set by the distinct
        rows, not the rows. ``joint=False``: only the columns' counts are wanted (``joint`` may be None)."""
        table = StagedTable.of(staged)
        cached = _COUNTS.get(table.folder)
        if cached is not None and (cached.joint is not None or not joint):
            return cached
        counts = staged_counts(table, self.measured(names), joint)
        self.keep_counts(table, counts)
        return counts

    def measured(self, names: str) -> list[str]:
        """The columns counted jointly (``checks.measured_columns``), in the input's or the output's names."""
        measured = measured_columns(self.policy)
        return [self.policy.output_name(c) for c in measured] if names == "output" else measured

    def keep_counts(self, table: StagedTable, counts: TableCounts | None) -> bool:
        """Keep ``counts`` of ``table`` for the next stage of this process; whether they were kept whole."""
        if counts is None:
            return False
        # Few distinct rows stay in memory for the next stage; many (the raw side: about one per row) are read back
        # from their sealed copy when asked for again, rather than held through the release.
        small = counts.joint is not None and len(counts.joint.frame) <= _KEPT_DISTINCT_ROWS
        _COUNTS.put(table.folder, counts if small else replace(counts, joint=None))
        return small

    def took_counts(self, table: StagedTable, counts: TableCounts | None) -> None:
        """Counts the pass that wrote ``table`` took on the way: kept, and sealed beside it unless every later
        stage reads them from this process's memory (``one_process``): a sealed copy nobody reads is a write of up to
        a million distinct raw rows."""
        if counts is not None and not (self.keep_counts(table, counts) and self.one_process):
            seal_counts(table, counts)

    def record(self, value: Any, outcomes: list[CheckOutcome]) -> None:
        """Outcomes of checks measured on ``value``, for ``outcomes_of``."""
        _CHECKED.setdefault(_key(value), {}).update({o.name: o for o in outcomes})

    def outcomes_of(self, value: Any, names: Iterable[str], measure: Callable[[], list[CheckOutcome]]
                    ) -> list[CheckOutcome]:
        """The outcomes already measured on ``value`` (by the walker, or by Dagster's asset checks in this
        process) when every check in ``names`` was, else ``measure()``: a release stage run on its own, or after
        only some checks, measures all of them again."""
        found = _CHECKED.get(_key(value), {})
        names = list(names)
        if names and all(n in found for n in names):
            return [found[n] for n in names]
        return measure()


class _Recent(OrderedDict):
    """The few most recently used entries: staged folders are written once, so what was measured or read of
    one stays true; only the newest are kept, so a long-lived Dagster process does not hold old tables. A stage
    computed ahead (``Stage.keep``) uses them from a second thread: ``put`` holds a lock, and readers take an entry
    with ``get``, never by a test and then an index (another ``put`` may evict it in between)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)


_FRAMES = _Recent(3)
_COUNTS = _Recent(4)
#: Counts with more distinct rows than this are not kept in memory between stages (see ``Run.counts``).
_KEPT_DISTINCT_ROWS = 1_000_000
_CHECKED = _Recent(16)


def _key(value: Any) -> Any:
    return StagedTable.of(value).folder if is_staged(value) else json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Output:
    name: str
    description: str


@dataclass(frozen=True)
class Stage:
    name: str
    outputs: tuple[Output, ...]
    inputs: tuple[str, ...]
    fn: Callable[..., dict[str, Out]]
    #: The stage reads ``Run.source`` (Dagster exposes it as run config).
    takes_source: bool = False
    #: Writes what ``fn`` made (the stage's files) and returns its outputs with what writing adds (their paths).
    #: A stage with ``keep`` has no effect until it is kept, so a walker may compute it while the checks of its
    #: inputs are judged, and keep it only when none blocks (``run_stage`` does both, one after the other).
    keep: Callable[[Run, dict[str, Out]], dict[str, Out]] | None = None


def run_stage(stage: Stage, run: Run, inputs: dict[str, Any]) -> dict[str, Out]:
    """The stage's outputs, kept (``Stage.keep``)."""
    return keep_stage(stage, run, stage.fn(run, **{name: inputs[name] for name in stage.inputs}))


def keep_stage(stage: Stage, run: Run, produced: dict[str, Out]) -> dict[str, Out]:
    """``produced`` (by ``stage.fn``) with the stage's files written."""
    return stage.keep(run, produced) if stage.keep is not None else produced


@dataclass(frozen=True)
class CheckSpec:
    name: str
    blocking: bool
    description: str


@dataclass(frozen=True)
class Check:
    """One or several checks of one output, computed together: ``fn(run, value, **extra values)``."""

    name: str
    on: str
    specs: tuple[CheckSpec, ...]
    fn: Callable[..., list[CheckOutcome]]
    extra: tuple[str, ...] = ()
    #: An output whose stage runs this check's rules on every row anyway (and raises when one breaks): a walker
    #: that runs that stage next may count the check as passed once it succeeds, instead of a second pass.
    proven_by: str | None = None


@dataclass(frozen=True)
class Graph:
    stages: tuple[Stage, ...]
    checks: tuple[Check, ...]

    def checks_on(self, output: str) -> list[Check]:
        return [c for c in self.checks if c.on == output]


# ---- stages ----------------------------------------------------------------------------------------------------

def _raw(run: Run) -> dict[str, Out]:
    key = check_partition(run.policy, run.partition)
    source = run.source if run.source is not None or key is None else partition_source(run.policy, key)
    src = resolve_source(run.policy, source, run.workdir)
    # A run the privacy budget cannot pay for in full stops here, before it charges anything.
    refuse_run_beyond_budget(run.policy, run.dirs.root.parent,
                             fits_plan=not run.policy.reuses_plan or chosen_plan(run.policy, run.dirs) is None)
    # The file's name shows which export a run read; a URL is shown without any user:password@ it may carry.
    shown = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", src.path)
    return {"raw": Out(src.as_dict(), {"path": shown, "bytes": src.n_bytes, "format": src.format,
                                       "sha256": src.sha256, "generated_sample": src.generated})}


def _staged(value: Any) -> StagedTable:
    return StagedTable.of(value)


def _table_meta(table: StagedTable) -> dict[str, Any]:
    return {"rows": table.rows, "columns": list(table.columns), "buckets": table.n_buckets}


def _qi_table(run: Run, raw: dict) -> dict[str, Any]:
    # In Dagster the raw_schema check ran this pass already (``_raw_schema``): its outputs are adopted.
    # (``run_policy`` has no such check: its qi pass proves it, and there is no record to find.)
    ahead = adopt(run.staging_dir, SourceFile(**raw), run.policy)
    if ahead is not None:
        return {name: Out(value, metadata) for name, (value, metadata) in ahead.items()}
    return _qi_pass(run, raw)


def _qi_pass(run: Run, raw: dict) -> dict[str, Any]:
    """The qi pass: the source validated and typed batch by batch (every rule on every row: it proves the
    raw_schema check), the GUIDs drawn, the qi table written in buckets, counted and judged on the way."""
    policy = run.policy
    evaluated = policy.evaluation is not None
    if evaluated and not policy.release.contract:
        # The hold-out picks control rows by source row: it needs the contract even when none is released.
        policy = policy.model_copy(update={"release": policy.release.model_copy(update={"contract": True})})
    # The counts and the schema of the qi table, judged as its pass writes it (not for a table the hold-out
    # replaces below).
    schema = qi_schema(policy)
    checks = {"qi_table_schema": lambda batch: check_schema("qi_table", batch, schema)}
    written = AsWritten(run.measured("input"), checks, across_batches=True) if not evaluated else None
    table, contract = _engine(run).qi_table(SourceFile(**raw), policy, run.staging_dir, run.rows_per_batch,
                                            watch=written)
    if written is not None:
        run.took_counts(table, written.finish(table))
    out: dict[str, Out] = {}
    input_rows = table.rows
    if evaluated:
        assert contract is not None
        training, control = hold_out_control(table.frame(), contract.frame(), policy)
        table.remove()
        table = stage_frame(training, run.staging_dir, "qi_table")
        out["control"] = Out(stage_frame(control, run.staging_dir, "control").as_dict(), {"rows": len(control)})
        if not run.policy.release.contract:
            contract.remove()
            contract = None
    if contract is not None:
        out["contract"] = Out(contract.as_dict(), {"rows": contract.rows})
    out["qi_table"] = Out(table.as_dict(), {**_table_meta(table), "input_rows": input_rows, **run.partitioning})
    return out


def _anonymise(run: Run, qi_table: dict, control: dict | None = None) -> dict[str, Out]:
    qi = _staged(qi_table)
    chosen = chosen_plan(run.policy, run.dirs)
    blockers = engine_blockers(run.policy)
    stored = None
    if chosen is not None:
        # Same codes, bands and levels as the releases of that plan: its key tables already decode this one.
        plan_id, stored = chosen
        check_rows(stored, plan_id, run.policy, qi.rows)
    if blockers:
        result, anonymised, before_group_steps = run_in_memory(qi, run.policy, run.staging_dir, stored)
    else:
        result = _engine(run).fit(qi, run.policy) if stored is None else Anonymised(
            qi.empty().iloc[:0], stored, plan_key_tables(run.policy, stored))
    if stored is None:
        plan_id = result.plan_id
        # Differentially private steps spend from the dataset's budget: refused here, before anything is written.
        # (A reused plan spends nothing more: replaying it only samples again from what was already released.)
        charge_plan(run.policy, result.plan, plan_id, run.dirs.root.parent)
        folder = write_key_tables(run.dirs, result.key_tables, plan_id)
        # The plan holds the codes of encode ops: it is as secret as the key tables, so it lives with them.
        write_plan(folder, result.plan)
    else:
        folder = run.dirs.key_tables / plan_id
    if not blockers:
        written = AsWritten(run.measured("output"), {
            "anonymised_schema": lambda batch: check_anonymised_schema(batch, run.policy)})
        anonymised, before_group_steps = _engine(run).apply(qi, run.policy, result, run.staging_dir, watch=written)
        run.took_counts(anonymised, written.finish(anonymised))
    run.fitted = result
    run.replayed_plan = plan_id if chosen is not None else None
    # Rows in minus rows out (a replayed plan's own rows_in counts the rows it was fitted on, not these).
    suppressed = max(0, qi.rows - anonymised.rows)
    engine = run.engine if not blockers else "in memory: " + "; ".join(blockers)
    return {
        "anonymised": Out(anonymised.as_dict(), {"rows": anonymised.rows, "suppressed_rows": suppressed,
                                                 "columns": list(anonymised.columns), "engine": engine}),
        "key_tables": Out({"tables": {n: len(t) for n, t in result.key_tables.items()}, "plan_id": plan_id,
                           "plan_reused": chosen is not None, "plan_summary": plan_summary(result.plan),
                           "engine": engine, "workers": run.workers, "buckets": qi.n_buckets},
                          {"folder": str(folder), "tables": sorted(result.key_tables)}),
        # Only group steps make it differ from the qi table: without groups it would be a second copy to stage.
        **({"before_group_steps": Out(before_group_steps.as_dict(), {"rows": before_group_steps.rows})}
           if before_group_steps is not None else {}),
        **_attacks(run, result, qi, control),
    }


def _engine(run: Run):
    """What runs the passes of a streaming policy: this process, or the Dask cluster (``dask_engine.Passes``)."""
    if run.engine == "dask":
        from anon_pipeline.pipeline.dask_engine import Passes

        return Passes(run)
    return _Streaming()


class _Streaming:
    """The streaming engine's passes, looked up when called (a test may replace one in this module)."""

    def qi_table(self, src: SourceFile, policy: Policy, staging: Path, rows_per_batch: int, watch=None
                 ) -> tuple[StagedTable, StagedTable | None]:
        return stream_qi_table(src, policy, staging, rows_per_batch, watch=watch)

    def fit(self, *args) -> Anonymised:
        return fit_streaming(*args)

    def apply(self, qi: StagedTable, policy: Policy, fitted: Anonymised, staging: Path, watch=None
              ) -> tuple[StagedTable, StagedTable | None]:
        return apply_streaming(qi, policy, fitted, staging, watch=watch)


def _attacks(run: Run, fitted: Anonymised, qi: StagedTable, control: dict | None) -> dict[str, Out]:
    # In the stage that fits: the attacks need the plan to put training and control rows in the release's domain.
    if control is None:
        return {}
    report = evaluate(fitted, qi.frame(), _staged(control).frame(), run.policy)
    path = write_reports(run.dirs, {"attack_report": report})["attack_report"]
    return {"attack_report": Out(report, {"report": Markdown(render_markdown(report)), "path": str(path)})}


def _dp_aggregates(run: Run, raw: dict, qi_table: dict) -> dict[str, Out]:
    # Differential privacy protects by itself: the aggregates come from the validated input, before any
    # generalisation, and form their own release, which ``release`` publishes with the table's (a failed run
    # publishes nothing). They are charged here, when the noise is drawn.
    drawn = draw_dp_aggregates(_staged(qi_table).frame(), run.policy, run.dirs.root.parent,
                               f"aggregates-{raw['sha256'][:16]}")
    assert drawn is not None  # the stage exists only for a policy with dp.aggregates
    return {"dp_aggregates": Out(drawn.as_dict(), {"aggregates": list(drawn.tables),
                                                   "epsilon": drawn.manifest["epsilon_total"]})}


def _report_stage(name: str, build, markdown, plots=None, joint: bool = True) -> Callable[..., dict[str, Out]]:
    def _report(run: Run, qi_table: dict, anonymised: dict, key_tables: dict,
                before_group_steps: dict | None = None, raw: dict | None = None) -> dict[str, Out]:
        def rows() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
            # Only measures that compare values row by row (K_eps, synthetic rows, distributions) ask for these.
            return (run.frame(qi_table), run.frame(anonymised),
                    run.frame(before_group_steps) if before_group_steps is not None else None)

        doc = build(run.counts(qi_table, "input", joint), run.counts(anonymised, "output", joint), run.policy, None,
                    key_tables.get("plan_summary"), rows=rows)
        text = markdown(doc)
        if raw is not None:  # only the anonymity report of a policy that reuses plans reads raw
            doc["union"] = union_anonymity(run.frame(anonymised), run.policy, run.dirs, key_tables["plan_id"],
                                           run.partition, raw.get("sha256"))
            text += union_markdown(doc["union"])
        meta: dict[str, Any] = {"report": Markdown(text)}
        if plots is not None and run.ui:
            meta["distributions"] = Markdown(plots(doc))
        return {name: Out(doc, meta)}
    return _report


def _write_report(run: Run, produced: dict[str, Out]) -> dict[str, Out]:
    """A report stage's ``keep``: its JSON written under the run's reports folder, its path in the metadata."""
    (name, out), = produced.items()
    path = write_reports(run.dirs, {name: out.value})[name]
    return {name: Out(out.value, {**out.metadata, "path": str(path)})}


def _release(run: Run, raw: dict, qi_table: dict, anonymised: dict, anonymity_report: dict, utility_report: dict,
             key_tables: dict, contract: dict | None = None, attack_report: dict | None = None,
             dp_aggregates: dict | None = None) -> dict[str, Out]:
    # The aggregates drawn by ``dp_aggregates`` are published here, after the table's release: a run that fails
    # anywhere publishes neither (their charge stands: the noise was drawn).
    # The staging checks run again here, so even a release materialised on its own never publishes a failing
    # table (``release`` raises BlockingCheckFailed and writes nothing).
    staged = _staged(anonymised)
    outcomes = run.outcomes_of(anonymised, staging_check_names(run.policy),
                               lambda: _staging_checks(run, anonymised, raw, qi_table))
    reports = {"anonymity_report": anonymity_report, "utility_report": utility_report}
    if attack_report is not None:
        outcomes += run.outcomes_of(attack_report, [n for n, _, _ in planned_attack_checks(run.policy)],
                                    lambda: check_attack_targets(attack_report, run.policy))
        reports["attack_report"] = attack_report
    dp_spent = {step: summary["dp"] for step, summary in key_tables.get("plan_summary", {}).items()
                if "dp" in summary}
    folder = release(staged, reports, outcomes, run.policy, run.dirs, source_sha256=raw.get("sha256"),
                     contract=_staged(contract) if contract is not None else None, plan_id=key_tables.get("plan_id"),
                     plan_reused=key_tables.get("plan_reused", False), partition=run.partition,
                     dp_spent=dp_spent or None, engine={"engine": key_tables.get("engine", "streaming"),
                                                        "workers": key_tables.get("workers"),
                                                        "buckets": key_tables.get("buckets")})
    aggregates = publish_dp_aggregates(DrawnAggregates.of(dp_aggregates), run.policy, run.dirs.root.parent) \
        if dp_aggregates is not None else None
    return {"release": Out(str(folder), {"release_dir": str(folder), "rows": staged.rows,
                                         **({"aggregates_dir": str(aggregates)} if aggregates is not None else {}),
                                         "warnings": sum(not o.passed for o in outcomes),
                                         "checks": Markdown(outcomes_markdown(outcomes)),
                                         **{o.name: o.metadata.get("measured") for o in outcomes
                                            if "measured" in o.metadata}})}


# ---- checks ----------------------------------------------------------------------------------------------------

def _anonymised_schema(run: Run, anonymised: dict) -> list[CheckOutcome]:
    return judged(_staged(anonymised), "anonymised_schema", lambda b: check_anonymised_schema(b, run.policy))


def _qi_table_schema(run: Run, qi_table: dict) -> list[CheckOutcome]:
    return judged(_staged(qi_table), "qi_table_schema", lambda b: check_schema("qi_table", b, qi_schema(run.policy)))


def _leak(run: Run, anonymised: dict, raw: dict, qi_table: dict) -> CheckOutcome:
    # The search reads which values each column holds, not how often: the tables' value counts are enough.
    counts = run.counts(anonymised, "output", joint=False).columns
    own = {c: pd.Series(values.index[values.index.notna()])
           for c, values in run.counts(qi_table, "input", joint=False).columns.items()}
    view = leak_view(SourceFile(**raw), own, run.policy, run.rows_per_batch, counts)
    return check_no_identifier_leak(view, counts, run.policy)


def _staging_checks(run: Run, anonymised: dict, raw: dict, qi_table: dict) -> list[CheckOutcome]:
    """Every check on the anonymised (staging) table, as the release re-runs them."""
    return [*_anonymised_schema(run, anonymised), _leak(run, anonymised, raw, qi_table),
            *check_privacy_targets(run.counts(anonymised, "output").joint, run.policy)]


def staging_check_names(policy: Policy) -> list[str]:
    """Every check the release requires of the anonymised table."""
    return ["anonymised_schema", "no_identifier_leak", *(name for name, _ in planned_privacy_checks(policy))]


def _raw_schema(run: Run, raw: dict) -> list[CheckOutcome]:
    # Only Dagster runs this check as a step of its own (``run_policy``'s qi pass proves it). It runs the qi pass,
    # which judges every rule on every row, and leaves the pass's outputs for the qi_table asset to adopt
    # (``pipeline.qi_ahead``): the file is read once, not once here and again there.
    try:
        produced = _qi_pass(run, raw)
    except InputDataError as exc:
        problems = getattr(exc, "problems", None) or [{"column": exc.column, "rule": exc.rule,
                                                       "n_rows": exc.n_rows, "hint": exc.hint}]
        return [CheckOutcome("raw_schema", False, True, f"{len(problems)} rule(s) of the policy broken in "
                             f"{raw.get('path')}", {"problems": problems}, error=exc)]
    leave(run.staging_dir, SourceFile(**raw), run.policy,
          {name: (out.value, out.metadata) for name, out in produced.items()})
    return [CheckOutcome("raw_schema", True, True, "conforms to the policy",
                         {"rows": produced["qi_table"].metadata["input_rows"], "columns": len(run.policy.columns)})]


def _release_schema(run: Run, folder: Path) -> list[CheckOutcome]:
    schema = anonymised_schema(run.policy)
    release_check, prefixes = Batchwise(lambda b: check_schema("release", b, schema)), GuidPrefixes()
    for batch in prefetched(iter_release_batches(folder, run.rows_per_batch)):
        release_check.add(batch)
        if release_check.broken:
            return [release_check.outcome()]
        prefixes.add(batch[GUID] if GUID in batch.columns else pd.Series(dtype="str"))
    if not prefixes.distinct():
        # A file's batches are not GUID buckets, so two may share a GUID: compare them all at once.
        guids = pd.concat([b[[GUID]] for b in iter_release_batches(folder, run.rows_per_batch)], ignore_index=True)
        whole = check_schema("release", guids, pa.DataFrameSchema({GUID: guid_column()}))
        if not whole.passed:
            return [whole]
    return [release_check.outcome()]


def _said_if_replayed(outcomes: list[CheckOutcome], plan_id: str | None) -> list[CheckOutcome]:
    """A failed target of a run that replayed a stored plan says so: the plan's bands, levels and suppressed
    classes were fitted on other data, and a fresh fit may meet the target where the replay does not."""
    if plan_id is None:
        return outcomes
    note = (f"; this run replayed plan {plan_id} (plan: reuse), fitted on other data: --plan refit (or plan: "
            "refit in the policy) fits one to this data, with new codes")
    return [o if o.passed else replace(o, description=o.description + note) for o in outcomes]


def stage_graph(policy: Policy) -> Graph:
    """Every stage and check of ``policy``, with descriptions in the release's column names."""
    outputs = ", ".join(policy.output_name(c) for c in policy.kept_columns)
    k_outputs = ", ".join(k_quasi_identifier_outputs(policy))
    evaluated = policy.evaluation is not None
    before_group_steps = (Output("before_group_steps", "After every column's steps, before group steps "
                                                       "(synthesis, lattice search): what synthesised groups are "
                                                       "measured against."),) \
        if policy.groups else ()
    # Only a policy that releases the contract has one to stage (the hold-out makes one of its own and drops it).
    contract = (Output("contract", "Source row <-> GUID, made with the qi table (release.contract: true); encrypted "
                                   "at rest like all staging."),) if policy.release.contract else ()
    held_out = (Output("control", "Rows held out before anything is fitted, for the attack evaluation: never "
                                  "released, encrypted at rest like all staging."),) if evaluated else ()
    attacked = (Output("attack_report", "Singling-out, linkability and inference risks of the release against the "
                                        "held-out control rows (Giomi et al. 2023), and the linkage attack."),) \
        if evaluated else ()
    stages: tuple[Stage, ...] = (
        Stage("raw", (Output("raw", "The source file as it is: a descriptor (path, SHA-256, size) only, so no "
                                    "copy of the personal data enters the asset store."),),
              (), _raw, takes_source=True),
        Stage("qi_table", (
            Output("qi_table", "Identifiers dropped, a fresh random GUID per row, rows in a random order, "
                               "pandera-validated."),
            *contract, *held_out), ("raw",), _qi_table),
        Stage("anonymise", (
            Output("anonymised", f"Staging table, every op chain applied, checked before release: {outputs}."),
            Output("key_tables", "Key tables (code -> value), kept apart from the release."),
            *before_group_steps, *attacked),
            ("qi_table", "control") if evaluated else ("qi_table",), _anonymise),
        Stage("anonymity_report", (Output(
            "anonymity_report", f"How identifiable the released rows are over {k_outputs} and over every released "
            "quasi-identifier: K, k = K/N %, class sizes, rows below k, re-identification risk and diversity of "
            "the sensitive columns, raw beside anonymised."),),
            ("qi_table", "anonymised", "key_tables", *(("before_group_steps",) if before_group_steps else ()),
             *(("raw",) if policy.reuses_plan else ())),
            _report_stage("anonymity_report", anonymity_report, anonymity_markdown), keep=_write_report),
        Stage("utility_report", (Output(
            "utility_report", f"How much each released column ({outputs}) still tells: distinct values, entropy, "
            "mean and standard deviation, and the distribution before and after (plotted under distributions)."),),
            ("qi_table", "anonymised", "key_tables", *(("before_group_steps",) if before_group_steps else ())),
            _report_stage("utility_report", utility_report, utility_markdown, distributions_markdown, joint=False),
            keep=_write_report),
        Stage("release", (Output("release", "The versioned, read-only release; written only when every blocking "
                                            "check passed."),),
              ("raw", "qi_table", "anonymised", "anonymity_report", "utility_report", "key_tables",
               *(("contract",) if contract else ()),
               *(("attack_report",) if evaluated else ()),
               *(("dp_aggregates",) if policy.dp is not None and policy.dp.aggregates else ())), _release),
    )
    checks: tuple[Check, ...] = (
        Check("raw_schema", "raw", (CheckSpec(
            "raw_schema", True, "Every column the policy declares is in the input file, no other, and its values "
            "follow the declared type and rules (a role: drop column: presence only)."),), _raw_schema,
            proven_by="qi_table"),
        Check("qi_table_schema", "qi_table", (CheckSpec(
            "qi_table_schema", True, "Every row has a unique random (v4) GUID, and the columns are exactly those "
            "the policy keeps, before any op: " + ", ".join(policy.kept_columns) + "."),),
            _qi_table_schema),
        Check("anonymised_schema", "anonymised", (CheckSpec(
            "anonymised_schema", True, f"Every released column is there with its type ({outputs}), and no "
            "quasi-identifier is left missing."),),
            _anonymised_schema),
        Check("privacy_targets", "anonymised", tuple(
            CheckSpec(name, blocking, privacy_check_description(name, policy))
            for name, blocking in planned_privacy_checks(policy)),
            lambda run, anonymised: _said_if_replayed(
                check_privacy_targets(run.counts(anonymised, "output").joint, run.policy), run.replayed_plan)),
        Check("no_identifier_leak", "anonymised", (CheckSpec(
            "no_identifier_leak", True, "No value of a direct-identifier column of the input ("
            + ", ".join(policy.identifiers) + ") occurs in any released column."),),
            lambda run, anonymised, raw, qi_table: [_leak(run, anonymised, raw, qi_table)],
            extra=("raw", "qi_table")),
        Check("release_schema", "release", (CheckSpec(
            "release_schema", True, "The written release files read back with the columns and types of the "
            "anonymised table."),),
            lambda run, release: _release_schema(run, Path(release))),
    )
    if policy.dp is not None and policy.dp.aggregates:
        # Right after the input is validated: an over-budget run stops before anything else is written.
        stages = stages[:2] + (Stage("dp_aggregates", (Output(
            "dp_aggregates", "Differentially private aggregates of the input (" + ", ".join(
                a.name for a in policy.dp.aggregates) + "), released on their own with the epsilon each spent; "
            "refused before anything is written when the dataset's budget would be passed."),),
            ("raw", "qi_table"), _dp_aggregates),) + stages[2:]
    if policy.reuses_plan:
        checks += (Check("union_k_anonymity", "anonymity_report", (CheckSpec(
            UNION_CHECK, False, f"K over {k_outputs} in the union of this release and the newest release of every "
            "other partition that shares its plan (reused codes make them joinable); a warning."),),
            lambda run, anonymity_report: check_union_k(anonymity_report, run.policy)),)
    if evaluated:
        checks += (Check("attack_targets", "attack_report", tuple(
            CheckSpec(name, blocking, text) for name, blocking, text in planned_attack_checks(policy)),
            lambda run, attack_report: check_attack_targets(attack_report, run.policy)),)
    return Graph(stages, checks)


def blocked(outcomes: Iterable[CheckOutcome]) -> bool:
    return any(o.blocking and not o.passed for o in outcomes)
