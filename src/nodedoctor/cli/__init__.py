"""The command line: the only place that wires sources, facts, rules, renderers and engines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nodedoctor.buildinfo import build_info
from nodedoctor.cli import check, clean, collect, fix, report, rules_cmd, why
from nodedoctor.cli.common import EXIT_INTERNAL, EXIT_USAGE, UsageError

#: Subcommand modules, each with ``register(subparsers)``; the handler imports what it needs.
COMMANDS = (check, rules_cmd, report, collect, fix, clean, why)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodedoctor",
        description="Find, explain and safely fix what stops a Kubernetes node from running pods.",
        # Keeps the one-line ``--version`` (version, commit, build date) on one line.
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=build_info().line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"nodedoctor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        print(f"nodedoctor: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
