"""The ``anon-pipeline`` command line: run a policy, and the sub-commands other modules contribute.

The one error edge of every sub-command is ``main``: whatever a handler raises becomes a typed error with a
message and an exit code (0 success, 1 a blocking check failed, 2 bad policy, input or secrets, 3 the
environment refused an operation or an internal error). No traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from importlib import import_module

from anon_pipeline.errors import typed_error

# Modules that add sub-commands: each exposes add_subcommands(subparsers). Kept as names so a missing
# optional module never breaks the core command.
SUBCOMMAND_MODULES = ("anon_pipeline.cli_run", "anon_pipeline.cli_secrets")
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anon-pipeline", description="Anonymise tables of personal data as a "
                                     "policy says, and manage the releases and key tables. Each command has "
                                     "its own --help.",
                                     epilog="exit codes: 0 success; 1 a blocking check failed (nothing released); "
                                     "2 bad policy, input or secrets; 3 the environment (disk full, permission "
                                     "denied) or an internal error")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback too (it may show data values)")
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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"anon-pipeline: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug, command = "--debug" in argv, "anon-pipeline"
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            args = build_parser().parse_args(argv)
            debug, command = args.debug, f"anon-pipeline {args.command}"
            return int(args.handler(args) or 0)
        except KeyboardInterrupt:
            print(f"{command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader of stdout went away (``| head``): not an error of the run. Python's own advice: point
            # stdout at /dev/null so the interpreter's flush at exit does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as exc:
            error = typed_error(exc)
            if debug:
                shown = getattr(error, "original", None) or error
                # A typed error raised ``from None`` (its message names no value) hides the library's error under
                # it: --debug shows that one too.
                if shown.__suppress_context__ and shown.__context__ is not None:
                    traceback.print_exception(shown.__context__, file=sys.stderr)
                traceback.print_exception(shown, file=sys.stderr)
            print(f"{command}: error: {error}", file=sys.stderr)
            return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
