"""``anon-pipeline run`` (the whole pipeline without Dagster), ``where`` (where outputs are), ``plans``, ``sample``
and ``schema`` (the policy file's JSON Schema).

Exit codes: 0 released; 1 a blocking check failed (nothing released); 2 bad policy or bad input; 3 the
environment (disk full, permission denied) or an internal error (see anon_pipeline.cli).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from anon_pipeline.workdir import PolicyDirs
from anon_pipeline.secrets.keys import SecretsError, resolve_key

if TYPE_CHECKING:
    from anon_pipeline.policy.model import Policy

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    from anon_pipeline.pipeline.run import run_policy
    from anon_pipeline.policy import load_policy

    # Errors (typed, with their exit code) are reported by anon_pipeline.cli.main, the one error edge. The policy is
    # loaded here, once, as the summary reads it too.
    policy = load_policy(args.policy)
    started = time.perf_counter()
    result = run_policy(policy, source=args.source, workdir=args.workdir, partition=args.partition,
                        plan=args.plan, batch_rows=args.batch_rows, engine=args.engine,
                        scheduler=args.scheduler)
    took = time.perf_counter() - started
    a = result.anonymity
    print(f"policy {result.policy}: K = {a['K']} over {', '.join(a['quasi_identifiers'])} "
          f"(the smallest class holds {a['k_percent']:.3g} % of the rows)")
    wide = a["all_quasi_identifiers"]
    if wide and wide["quasi_identifiers"] != a["quasi_identifiers"]:
        print(f"  over every released quasi-identifier: K = {wide['K']}, "
              f"{100 * wide['sample_unique_share']:.1f} % of rows unique")
    union = (a["report"] or {}).get("union")
    if union:
        print(f"  over the union of {len(union['releases'])} release(s) sharing plan {union['plan_id']}: "
              f"K = {union['K']}, {union['rows']} rows")
    report = a["report"] or {}
    read, kept = (report.get(side, {}).get("n_rows") for side in ("raw", "anonymised"))
    rows = f"{read:,} read, {kept:,} in the anonymised table" if read is not None and kept is not None else "n/a"
    print(f"rows:       {rows}; {args.engine} engine, batches of "
          f"{args.batch_rows or policy.source.batch_rows:,} rows; {took:.1f} s")
    _print_checks([(o.name, o.passed, o.blocking, o.description) for o in result.check_details])
    if not result.released:
        if policy.dp is not None:  # what the run charged stands, released or not
            _print_budget(result.workdir, policy)
        for name, why in result.failed_checks.items():
            print(f"error: blocking check '{name}' failed: {why}; nothing released", file=sys.stderr)
        return EXIT_CHECK_FAILED
    _print_where(result.workdir.parent, result.policy, partition=result.partition, policy=policy)
    if result.plan_id:
        print(f"plan:       {result.plan_id} ({'reused' if result.plan_reused else 'fitted by this run'})")
    return 0


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _print_checks(checks: list[tuple[str, bool, bool, str]]) -> None:
    """A line per check (name, passed, blocking, description): a failed check that does not block says so, as
    the release went ahead without it."""
    width = max((len(name) for name, *_ in checks), default=0)
    for name, passed, blocking, description in checks:
        verdict = "passed" if passed else "FAILED" if blocking else "FAILED (warning: not blocking)"
        print(f"  check {name:<{width}}  {verdict}  {description}".rstrip())


def _print_summary(manifest: dict, anonymity: dict) -> None:
    """Each check of the latest release with its result, and K over the k set and over every released
    quasi-identifier (when the anonymity report has it): read from the release, so it is what was published."""
    checks = manifest.get("checks", {})
    part = f", partition {manifest['partition']}" if manifest.get("partition") else ""
    print(f"latest release of {manifest.get('policy', '?')}{part}, {manifest.get('created_utc', '?')} "
          "(the checks its manifest records):")
    _print_checks([(name, bool(c.get("passed")), bool(c.get("blocking")), c.get("description", ""))
                   for name, c in checks.items()])
    measured = anonymity.get("anonymised", {})
    if "k_anonymity" in measured:
        target = anonymity.get("k_target")
        print(f"K:          {measured['k_anonymity']} over {', '.join(measured.get('quasi_identifiers', []))}"
              + (f" (target k = {target})" if target is not None else ""))
    wide = anonymity.get("all_quasi_identifiers") or {}
    if "K" in wide:
        print(f"K (all):    {wide['K']} over every released quasi-identifier: "
              f"{', '.join(wide.get('quasi_identifiers', []))}")


def _dirs(workdir: Path | str | None, policy_name: str) -> PolicyDirs:
    return PolicyDirs(Path(workdir).resolve() / policy_name) if workdir is not None else \
        PolicyDirs.for_policy(None, policy_name)


def _print_budget(policy_root: Path, policy: Policy) -> None:
    """A DP policy's spending: what its dataset's ledger records against the budget, and its latest aggregates."""
    from anon_pipeline.dp.aggregates import RELEASE_DIR
    from anon_pipeline.dp.ledger import Ledger, dataset_of, ledger_file

    dp = policy.dp
    assert dp is not None  # called for a policy with a dp: section
    dataset, where = dataset_of(policy), ledger_file(policy_root.parent, dataset_of(policy))
    ledger = Ledger.for_dataset(policy_root.parent, dataset) if where.is_file() else None
    charges = ledger.entries() if ledger is not None else []
    budget = (ledger.budget() if ledger is not None else None) or dp.budget
    of = f" of the budget epsilon={budget.epsilon:g}, delta={budget.delta:g}" if budget is not None else ""
    if charges:
        assert ledger is not None
        epsilon, delta = ledger.spent()
        print(f"DP budget:  dataset '{dataset}' has spent epsilon={epsilon:.4g}, delta={delta:.3g}{of} "
              f"({len(charges)} charge(s); ledger {where})")
    else:
        print(f"DP budget:  dataset '{dataset}' has spent nothing yet{of}")
    aggregates = policy_root / RELEASE_DIR / "latest"
    if dp.aggregates:
        print(f"aggregates: {aggregates.resolve() if aggregates.exists() else '(none yet)'}")


def _print_where(workdir: Path | str | None, policy_name: str, summary: bool = False,
                 partition: str | None = None, policy: Policy | None = None) -> None:
    """Where a policy's outputs are (with ``summary``, the latest release's checks and K first); with ``policy``,
    a DP policy's spending too."""
    dirs = _dirs(workdir, policy_name)
    latest = dirs.root / "release" / (partition or "") / "latest"
    manifest = _read_json(latest / "manifest.json") if latest.exists() else {}
    if summary and manifest:
        _print_summary(manifest, _read_json(latest / "anonymity_report.json"))
    if policy is not None and policy.dp is not None:
        _print_budget(dirs.root, policy)
    print(f"reports:    {dirs.root / 'reports'}")
    try:
        key = resolve_key(create=False)
        print(f"key:        {key.path or key.source}  (decode: anon-pipeline decode <file>.enc)")
    except SecretsError:
        print("key:        none configured yet (the first run creates one and says where)")
    print(f"release:    {latest.resolve() if latest.exists() else '(none yet)'}")
    zipped = manifest.get("encrypted_zip")
    if zipped:
        print(f"zip:        {latest.resolve() / zipped['file']} holds the tables (AES-256: 7-Zip's `7z x` or "
              f"pyzipper open it, not unzip); its password is in {zipped['password_file']}")
    if manifest.get("plan_id"):
        print(f"plan id:    {manifest['plan_id']}")
        print(f"key tables: {dirs.root / manifest.get('key_tables', 'key_tables/' + manifest['plan_id'])} "
              "(the latest release's; encrypted, keep apart from the release)")
    else:
        print(f"key tables: {dirs.root / 'key_tables'} (encrypted; keep apart from the release)")


def _where(args: argparse.Namespace) -> int:
    from anon_pipeline.pipeline.partitions import check_partition
    from anon_pipeline.pipeline.plans import releases
    from anon_pipeline.policy import load_policy

    policy = load_policy(args.policy)
    partition = args.partition
    if partition is None and policy.partitions is not None:  # the newest release, whatever its partition
        partition = next((r.partition for r in reversed(releases(_dirs(args.workdir, policy.name)))), None)
    _print_where(args.workdir, policy.name, summary=True, partition=check_partition(policy, partition)
                 if partition is not None else None, policy=policy)
    return 0


def _plans(args: argparse.Namespace) -> int:
    from anon_pipeline.pipeline.plans import releases, stored_plans
    from anon_pipeline.policy import load_policy

    dirs = _dirs(args.workdir, load_policy(args.policy).name)
    plans, used = stored_plans(dirs), releases(dirs)
    if not plans:
        print(f"no stored plan in {dirs.root / 'key_tables'}")
        return 0
    for plan_id, written in plans.items():
        mine = [r for r in used if r.plan_id == plan_id]
        none = " (its run published nothing: a check blocked it, or it failed)" if not mine else ""
        print(f"{plan_id}  fitted {written.isoformat(timespec='seconds')}  {len(mine)} release(s){none}")
        for r in mine:
            print(f"    {r.partition + '/' if r.partition else ''}{r.version}  {r.created_utc}")
    latest = next((r.plan_id for r in reversed(used) if r.plan_id), None)
    if latest:
        print(f"latest: {latest} (what plan: {{reuse: latest}} replays)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from anon_pipeline.sample import write_sample
    from anon_pipeline.sample.registry import sample_format
    from anon_pipeline.secrets.atomic import atomic_target

    try:
        # All or nothing, and private whatever the umask: a sample stands for personal data.
        with atomic_target(Path(args.out), mode=0o600) as tmp:
            rows = write_sample(args.generator, args.rows, args.seed, tmp, sample_format(args.out))
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {rows} rows of '{args.generator}' (seed {args.seed}) to {args.out}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from anon_pipeline.policy.schema import policy_json_schema

    print(json.dumps(policy_json_schema(), indent=2))
    return 0


_PARTITION_HELP = ("the partition to run, e.g. 2024-03 (monthly), 2024-03-05 (daily) or a listed key: picks the file "
                   "partitions.source names and the release folder release/<partition>/")
_WORKDIR_HELP = "folder the outputs go to (default: $ANON_PIPELINE_WORKDIR, else ./anon_output)"


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="anonymise a table as a policy says and publish the release (no Dagster needed)",
        description="Read the policy's input file, check it, anonymise it, check the result and, when every "
        "blocking check passes, write a read-only release. Exit code 0: released; 1: a blocking check failed, "
        "nothing released; 2: the policy or the input is wrong (the message says which column and rule); 3: the "
        "machine refused something (disk full, permission denied, a scheduler that does not answer) or an internal "
        "error.")
    run.add_argument("policy", metavar="POLICY", help="the policy file (YAML), e.g. policies/insurance_customers.yaml")
    run.add_argument("--source", metavar="FILE",
                     help="a CSV or parquet file to read instead of the one the policy names (e.g. this month's "
                     "export); the policy is not changed")
    run.add_argument("--workdir", metavar="FOLDER", help=_WORKDIR_HELP)
    run.add_argument("--partition", metavar="KEY", help=_PARTITION_HELP)
    run.add_argument("--plan", metavar="refit|latest|PLAN_ID",
                     help="override the policy's plan: fit afresh (refit), or replay the plan of the latest release "
                     "(latest) or a stored plan (its id, see the plans command), so codes and bands stay the same")
    run.add_argument("--batch-rows", type=_positive, metavar="N",
                     help="rows per batch of the streaming engine (default: the policy's source.batch_rows, "
                     "250000); peak memory grows with it")
    run.add_argument("--engine", choices=("streaming", "dask"), default="streaming",
                     help="streaming (default: batches in this process) or dask (the passes as tasks on a Dask "
                     "cluster; needs the dask extra)")
    run.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler (tcp://host:8786) for --engine dask; "
                     "default: DASK_SCHEDULER_ADDRESS / dask.config, else a local cluster started for the run")
    run.set_defaults(handler=_run)
    where = subparsers.add_parser(
        "where", help="summarise the latest release of a policy and say where its files are",
        description="Print each check of the latest release and its result, K, the release folder, the plan id "
        "and the folder of the key tables that decode that release, the reports folder and the key file.")
    where.add_argument("policy", metavar="POLICY", help="the policy file (YAML) whose outputs to show")
    where.add_argument("--workdir", metavar="FOLDER", help=_WORKDIR_HELP)
    where.add_argument("--partition", metavar="KEY", help="the partition whose latest release to show "
                       "(partitioned policies; default: the newest release of any partition)")
    where.set_defaults(handler=_where)
    plans = subparsers.add_parser(
        "plans", help="list the stored plans of a policy, when each was fitted and the releases that used it",
        description="Every plan stored under key_tables/ (encrypted), the date it was fitted and the releases "
        "(partition/version) that used it; the plan plan: {reuse: latest} would replay is named last.")
    plans.add_argument("policy", metavar="POLICY", help="the policy file (YAML)")
    plans.add_argument("--workdir", metavar="FOLDER", help=_WORKDIR_HELP)
    plans.set_defaults(handler=_plans)
    sample = subparsers.add_parser(
        "sample", help="write a made-up sample table (no real people) of any size",
        description="Write a table of invented records from a bundled generator. The same generator, number of "
        "rows and seed always give the same table.")
    sample.add_argument("generator", nargs="?", default="insurance_customers", metavar="GENERATOR",
                        help="which kind of table: insurance_customers (the default, the columns of the bundled "
                        "policy) or flights; an unknown name lists the known ones")
    sample.add_argument("--rows", type=int, default=1000, metavar="N", help="number of rows (default: 1000)")
    sample.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the random generator: another seed gives other records (default: 0)")
    sample.add_argument("--out", required=True, metavar="FILE",
                        help="file to write: a name ending in .parquet or .pq writes parquet, any other CSV")
    sample.set_defaults(handler=_sample)
    schema = subparsers.add_parser(
        "schema", help="print the JSON Schema of a policy file, for editors",
        description="Print the JSON Schema (draft 2020-12) of a policy file: every key, every op with its "
        "parameters (plugins included). Save it and name it in a policy's first line, "
        "'# yaml-language-server: $schema=policy.schema.json', for completion and checks as you type.")
    schema.set_defaults(handler=_schema)
