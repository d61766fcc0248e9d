"""``nodedoctor check``: run the rules and report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nodedoctor.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    add_root_options,
    open_root,
    parse_severity,
    use_color,
)
from nodedoctor.model import Severity


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check", help="check a node and report what stops it from running pods"
    )
    add_root_options(p)
    p.add_argument(
        "--format",
        default="text",
        choices=["text", "json"],
        help="report format (default: text)",
    )
    p.add_argument(
        "--fail-on",
        type=parse_severity,
        default=Severity.ERROR,
        metavar="SEVERITY",
        help="exit 1 when a finding is at or above this severity: error, warning, info "
        "(default: error)",
    )
    p.add_argument("--skip", nargs="+", default=[], metavar="ID", help="rules not to run")
    p.add_argument("--only", nargs="+", default=[], metavar="ID", help="run only these rules")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nodedoctor import engine
    from nodedoctor.facts import Facts
    from nodedoctor.render import Format, renderer
    from nodedoctor.rules import all_rules, rule_by_id

    for rule_id in [*args.only, *args.skip]:
        if rule_by_id(rule_id) is None:
            raise UsageError(f"unknown rule {rule_id!r}; see 'nodedoctor rules'")
    root = open_root(args)
    facts = Facts(root, profile=args.profile)
    report = engine.run(facts, engine.select_rules(all_rules(), args.only, args.skip))
    text = renderer(Format(args.format))(report, use_color())
    sys.stdout.write(text)
    worst = report.worst()
    return EXIT_FINDINGS if worst is not None and worst.at_least(args.fail_on) else EXIT_OK
