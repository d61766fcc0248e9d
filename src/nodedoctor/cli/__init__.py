"""The command line: the only place that wires sources, facts, rules, renderers and engines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from nodedoctor.buildinfo import build_info
from nodedoctor.cli.common import EXIT_INTERNAL, EXIT_USAGE, UsageError

#: Subcommand modules (``nodedoctor.cli.<name>``, each with ``register(subparsers)``) in the
#: order ``--help`` lists them, with the commands each registers. Running a command imports
#: its own module only: an NPD plugin is a fresh ``check`` every 30 s (tests/speed).
COMMANDS: dict[str, tuple[str, ...]] = {
    "check": ("check",),
    "rules_cmd": ("rules", "explain"),
    "report": ("report",),
    "collect": ("collect",),
    "fix": ("fix", "rollback", "journal"),
    "clean": ("clean",),
    "why": ("why",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with a ``command`` that one module registers, only that command (the
    rest are not imported). Without one (help, a usage error), every command."""
    parser = argparse.ArgumentParser(
        prog="nodedoctor",
        description="Find, explain and safely fix what stops a Kubernetes node from running pods.",
        # Keeps the one-line ``--version`` (version, commit, build date) on one line.
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=build_info().line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [m for m, names in COMMANDS.items() if command in names] or list(COMMANDS)
    for module in modules:
        import_module(f"nodedoctor.cli.{module}").register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top-level
    options, ``--version`` and ``--help``, take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(_command(argv))
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
