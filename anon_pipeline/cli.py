"""The ``anon-pipeline`` command line: run a policy, and the sub-commands other modules contribute."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

# Modules that add sub-commands: each exposes add_subcommands(subparsers). Kept as names so a missing
# optional module never breaks the core command.
SUBCOMMAND_MODULES = ("anon_pipeline.cli_run", "anon_pipeline.cli_secrets")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anon-pipeline", description="Anonymise tables of personal data as a "
                                     "policy says, and manage the releases and key tables. Each command has "
                                     "its own --help.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       help="one of the commands below")
    for name in SUBCOMMAND_MODULES:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.add_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
