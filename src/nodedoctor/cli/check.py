"""``nodedoctor check``: run the rules and report."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from nodedoctor._record import replace
from nodedoctor.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    add_root_options,
    node_options,
    open_root,
    parse_severity,
    terminal_columns,
    use_color,
)
from nodedoctor.cli.helptext import help_kwargs
from nodedoctor.i18n import _
from nodedoctor.model import Severity

#: Commands a live check of the whole rule set runs on every node: the kernel log (AppArmor
#: denials, facts/apparmor.py; the kernel's words on cgroup parameters, facts/boot/cmdline.py).
#: Started before the rules read a file, it runs on another core meanwhile. (The kubelet's
#: systemd units are asked only when no kubelet process runs: not on every node.)
LIVE_CHECK_COMMANDS = ("journalctl-kernel",)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check",
        help=_("check a node and report what stops it from running pods"),
        **help_kwargs("check"),
    )
    add_root_options(p, many=True)
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help=_("with several --root/--bundle: worker processes (default: one per CPU)"),
    )
    p.add_argument(
        "--format",
        default="text",
        choices=["text", "json", "junit", "sarif", "npd", "prometheus", "html"],
        help=_("report format (default: text); npd exits 0 OK, 1 problem, 2 unknown"),
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help=_("write the report to FILE atomically (temp file and rename) instead of stdout"),
    )
    p.add_argument(
        "--fail-on",
        type=parse_severity,
        default=Severity.ERROR,
        metavar="SEVERITY",
        help=_(
            "exit 1 when a finding is at or above this severity: error, warning, info "
            "(default: error)"
        ),
    )
    p.add_argument("--skip", nargs="+", default=[], metavar="ID", help=_("rules not to run"))
    verbosity = p.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=-1,
        help=_("text: only one line per finding and the verdict"),
    )
    verbosity.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=1,
        help=_("text: also the rules that were skipped, and why"),
    )
    p.set_defaults(verbosity=0)
    p.add_argument(
        "--logs",
        metavar="FILE",
        help=_(
            "a log (kubelet journal, kubeadm output, kern.log; '-' for stdin): check only the "
            "rules whose symptoms it shows (every rule when it shows none), with the log lines "
            "added to their findings as evidence"
        ),
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="ID",
        help=_("run only these rules; a family name (e.g. CgroupDriverMismatch) names its rules"),
    )
    p.add_argument(
        "--npd-cache",
        metavar="DIR",
        help=_(
            "with --format npd --only FAMILY: share one evaluation of every family among "
            "the plugin runs of an NPD cycle, kept in DIR (the pod's emptyDir)"
        ),
    )
    p.add_argument(
        "--npd-cache-ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        help=_("how long a shared evaluation serves (default: 30; NPD's interval is 60 s)"),
    )
    p.set_defaults(func=run)


def _run_batch(
    args: argparse.Namespace, targets: list[tuple[str, str]], only: list[str], skip: list[str]
) -> int:
    from nodedoctor.cli.batch import Options, Target, run_batch

    if args.format != "json":
        raise UsageError(_("several roots are reported as JSON Lines: add --format json"))
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(_("--jobs must be 1 or more"))
    options = Options(
        args.profile, tuple(only), tuple(skip), args.fail_on, args.role, args.kubernetes_version
    )
    return run_batch([Target(k, p) for k, p in targets], options, args.jobs, args.output)


def run(args: argparse.Namespace) -> int:
    try:
        return _check(args)
    except UsageError as exc:
        if args.format == "npd":
            # NPD shows stdout as the condition's message: Unknown, and why (the usual
            # one-line error still goes to stderr).
            from nodedoctor.render.npd import npd_unknown

            sys.stdout.write(npd_unknown(str(exc))[1] + "\n")
        raise


def _npd_cycle(args: argparse.Namespace, family: str) -> int:
    """``check --format npd --only FAMILY --npd-cache DIR``: this family's line from the
    cycle's shared evaluation, made here (under a lock) when no fresh one exists."""
    from nodedoctor import npdcycle

    ttl = npdcycle.ttl_of(None if args.npd_cache_ttl is None else str(args.npd_cache_ttl))
    if ttl is None:
        raise UsageError(_("--npd-cache-ttl: seconds from 0 to 3600"))
    root = open_root(args)
    key = npdcycle.cache_key(args.root[0] if args.root else npdcycle.LIVE, args.profile)
    # A bundle is never what NPD checks: evaluated, never shared.
    share = key is not None and not args.bundle and not args.kubernetes_version
    severity = args.fail_on.value
    try:
        os.makedirs(args.npd_cache, mode=0o700, exist_ok=True)
        with npdcycle.Lock(args.npd_cache):
            lines = npdcycle.read_cached(args.npd_cache, key, ttl) if key and share else None
            found = lines.get(family, {}).get(severity) if lines else None
            if found is None:
                from nodedoctor.facts.tracing import TracingFacts
                from nodedoctor.render.npd import cycle_lines
                from nodedoctor.rules.families import FAMILIES

                started = int(time.time())
                try:
                    lines = cycle_lines(
                        TracingFacts(root, args.profile, args.kubernetes_version), FAMILIES
                    )
                finally:
                    if root.commands is not None:
                        root.commands.close()
                if key and share:
                    text = npdcycle.document(key, started, lines)
                    npdcycle.write_cached(args.npd_cache, text)
                found = lines[family][severity]
    except OSError as exc:
        raise UsageError(
            _("--npd-cache {path}: {error}").format(path=args.npd_cache, error=exc.strerror or exc)
        ) from None
    sys.stdout.write(found[1] + "\n")
    return found[0]


def _check(args: argparse.Namespace) -> int:
    from nodedoctor import engine
    from nodedoctor.cli.names import canonical_rule_names
    from nodedoctor.facts import Facts
    from nodedoctor.render import Format, renderer
    from nodedoctor.rules import rule_by_id, rules_for
    from nodedoctor.rules.families import ENGINE_RULES, FAMILIES, expand_families

    args.only = canonical_rule_names(args.only)
    args.skip = canonical_rule_names(args.skip)
    # Only the rule modules (and so the facts) that --only names are imported: an NPD plugin
    # run checks one family.
    rules = rules_for(args.only)
    try:
        only = expand_families(args.only, rules)
        skip = expand_families(args.skip, rules)
    except KeyError as exc:
        raise UsageError(_("unknown rule family {name!r}").format(name=exc.args[0])) from None
    for rule_id in [*only, *skip]:
        if rule_by_id(rule_id) is None:
            raise UsageError(
                _("unknown rule {name!r}; see 'nodedoctor rules'").format(name=rule_id)
            )
    if args.only and not only:  # a family with no rules yet: run only the engine's own
        only = sorted(ENGINE_RULES)
    targets = [("root", r) for r in args.root or []] + [("bundle", b) for b in args.bundle or []]
    if args.npd_cache:
        if args.format != "npd" or len(args.only) != 1 or args.only[0] not in FAMILIES:
            raise UsageError(_("--npd-cache needs --format npd and --only with one family"))
        if args.skip or args.logs or len(targets) > 1:
            raise UsageError(_("--npd-cache takes no --skip, --logs or second node"))
        return _npd_cycle(args, args.only[0])
    if len(targets) > 1:
        if args.logs:
            raise UsageError(_("--logs checks one node: give one --root or --bundle"))
        return _run_batch(args, targets, only, skip)
    root = open_root(args)
    facts = Facts(
        root, profile=args.profile, role=args.role, kubernetes_version=args.kubernetes_version
    )
    selected = engine.select_rules(rules, only, skip)
    scan = None
    if args.logs:
        from nodedoctor.cli.why import scan_log

        ordinary = [r for r in selected if r.id not in ENGINE_RULES]
        scan = scan_log(args.logs, ordinary)
        if scan.matches:
            selected = [r for r in selected if r.id in scan.matches or r.id in ENGINE_RULES]
        else:
            print(
                _("nodedoctor: no known symptom in {path}; checking every rule").format(
                    path=args.logs
                ),
                file=sys.stderr,
            )
    fmt = Format(args.format)
    if root.live and root.commands is not None and not (args.only or args.skip or args.logs):
        root.commands.start(*LIVE_CHECK_COMMANDS)
    try:
        # NPD shows one line: the node block would only cost its facts.
        report = engine.run(facts, selected, summary=fmt is not Format.NPD)
    finally:
        if root.commands is not None:
            root.commands.close()
    if scan is not None and scan.matches:
        from nodedoctor.cli.why import with_log_evidence

        report = with_log_evidence(report, scan)
    report = replace(report, node_options=node_options(args))
    exit_code = None
    if fmt is Format.NPD:
        from nodedoctor.render.npd import npd_status

        exit_code, line = npd_status(report, args.fail_on)
        text = line + "\n"
    elif fmt is Format.TEXT:
        from nodedoctor.render.text import render_text, report_width

        width = report_width(terminal_columns(terminal=not args.output))
        text = render_text(report, use_color() and not args.output, width, args.verbosity)
        if scan is not None and scan.matches:
            from nodedoctor.cli.why import describe_scan

            text = describe_scan(scan, report) + text
    else:
        text = renderer(fmt)(report, use_color() and not args.output)
    if args.output:
        from nodedoctor.cli.output import write_atomic

        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    if exit_code is not None:
        return exit_code
    worst = report.worst()
    return EXIT_FINDINGS if worst is not None and worst.at_least(args.fail_on) else EXIT_OK
