"""``anon-pipeline run`` (the whole pipeline without Dagster) and ``anon-pipeline where`` (where outputs are).

Exit codes: 0 released; 1 a blocking check failed (nothing released); 2 bad policy or bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.pipeline.workdir import PolicyDirs
from anon_pipeline.policy import load_policy
from anon_pipeline.secrets.keys import SecretsError, resolve_key

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


def _run(args: argparse.Namespace) -> int:
    from anon_pipeline.pipeline.run import run_policy

    try:
        result = run_policy(args.policy, source=args.source, workdir=args.workdir)
    except AnonPipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    a = result.anonymity
    print(f"policy {result.policy}: K = {a['K']} (k = {a['k_percent']:.2f} %) over {', '.join(a['quasi_identifiers'])}")
    for name, passed in result.checks.items():
        print(f"  check {name}: {'passed' if passed else 'FAILED'}")
    if not result.released:
        for name, why in result.failed_checks.items():
            print(f"error: blocking check '{name}' failed: {why}; nothing released", file=sys.stderr)
        return EXIT_CHECK_FAILED
    _print_where(result.workdir.parent, result.policy)
    return 0


def _print_where(workdir: Path | str | None, policy_name: str) -> None:
    dirs = PolicyDirs(Path(workdir).resolve() / policy_name) if workdir is not None else \
        PolicyDirs.for_policy(None, policy_name)
    latest = dirs.root / "release" / "latest"
    print(f"release:    {latest.resolve() if latest.exists() else '(none yet)'}")
    print(f"reports:    {dirs.root / 'reports'}")
    print(f"key tables: {dirs.root / 'key_tables'} (encrypted; keep apart from the release)")
    try:
        key = resolve_key(create=False)
        print(f"key:        {key.path or key.source}  (decode: anon-pipeline decode <file>.enc)")
    except SecretsError:
        print("key:        none configured yet (the first run creates one and says where)")


def _where(args: argparse.Namespace) -> int:
    try:
        name = load_policy(args.policy).name
    except AnonPipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _print_where(args.workdir, name)
    return 0


def _sample(args: argparse.Namespace) -> int:
    from anon_pipeline.sample import write_sample

    try:
        rows = write_sample(args.generator, args.rows, args.seed, args.out)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {rows} rows of '{args.generator}' (seed {args.seed}) to {args.out}")
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run a policy end to end (plain Python, no Dagster instance)")
    run.add_argument("policy", help="policy YAML file")
    run.add_argument("--source", help="input file to use instead of the policy's source")
    run.add_argument("--workdir", help="where to write (default: $ANON_PIPELINE_WORKDIR or ./anon_output)")
    run.set_defaults(handler=_run)
    where = subparsers.add_parser("where", help="print where a policy's release, reports and key tables are")
    where.add_argument("policy", help="policy YAML file")
    where.add_argument("--workdir", help="work directory (default: $ANON_PIPELINE_WORKDIR or ./anon_output)")
    where.set_defaults(handler=_where)
    sample = subparsers.add_parser("sample", help="write a bundled, seeded sample table of any size")
    sample.add_argument("generator", nargs="?", default="insurance_customers")
    sample.add_argument("--rows", type=int, default=1000)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="CSV or .parquet file to write")
    sample.set_defaults(handler=_sample)
