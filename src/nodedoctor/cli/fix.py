"""``nodedoctor fix``, ``nodedoctor rollback`` and ``nodedoctor journal``.

``fix`` exits 0 when there is nothing to change, 1 when a plan exists (without
``--apply``) or the apply left something wrong or was refused, 2 on usage errors (and
``--apply`` without a terminal or ``--yes``). ``rollback`` exits 0 when the entry is
rolled back (an interrupted apply or rollback included), 1 when it refused (files changed
since) or ``systemctl daemon-reload`` failed, 2 when there is no such entry or it is
damaged. ``journal`` lists entries, interrupted ones marked, damaged ones and incomplete
(staging) ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nodedoctor.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    add_root_options,
    open_root,
)
from nodedoctor.cli.helptext import help_kwargs
from nodedoctor.i18n import _


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fix",
        help=_("plan (and with --apply make) the edits that fix the findings"),
        **help_kwargs("fix"),
    )
    add_root_options(p)
    p.add_argument("--only", nargs="+", default=[], metavar="ID", help=_("fix only these rules"))
    p.add_argument("--apply", action="store_true", help=_("apply the plan (default: show it)"))
    p.add_argument("--yes", action="store_true", help=_("apply without asking"))
    p.add_argument(
        "--restart",
        action="store_true",
        help=_("after applying, restart the services the plan names (live node only)"),
    )
    p.add_argument("--format", default="text", choices=["text", "json"])
    p.set_defaults(func=run_fix)

    r: argparse.ArgumentParser = sub.add_parser(
        "rollback",
        help=_("restore the files of an applied fix byte for byte (or finish an interrupted one)"),
    )
    add_root_options(r)
    r.add_argument("journal_id", nargs="?", metavar="JOURNAL_ID", help=_("default: the last apply"))
    r.add_argument(
        "--force", action="store_true", help=_("restore files even if they changed since the apply")
    )
    r.add_argument("--format", default="text", choices=["text", "json"])
    r.set_defaults(func=run_rollback)

    j: argparse.ArgumentParser = sub.add_parser(
        "journal", help=_("list applied fixes (and interrupted or damaged ones)")
    )
    add_root_options(j)
    j.add_argument("--format", default="text", choices=["text", "json"])
    j.set_defaults(func=run_journal)


def _emit(args: argparse.Namespace, text: str, data: dict[str, Any] | list[Any]) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(text)


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def run_fix(args: argparse.Namespace) -> int:
    from nodedoctor import engine as rule_engine
    from nodedoctor.cli.names import canonical_rule_names
    from nodedoctor.facts import Facts
    from nodedoctor.fix import engine, render
    from nodedoctor.fix.fsops import RefusedError
    from nodedoctor.fix.planner import build_plan
    from nodedoctor.rules import all_rules
    from nodedoctor.rules.families import expand_families

    args.only = expand_families(canonical_rule_names(args.only), all_rules())
    if args.apply and getattr(args, "bundle", None):
        raise UsageError(_("--apply: a bundle is a copy of a node; fix the node itself"))
    if args.restart and not args.apply:
        raise UsageError(_("--restart needs --apply"))
    root = open_root(args)
    facts = Facts(
        root, profile=args.profile, role=args.role, kubernetes_version=args.kubernetes_version
    )
    # Every rule runs (a remedy may wait for another finding); --only limits what is planned.
    rules = rule_engine.select_rules(all_rules())
    report = rule_engine.run(facts, rules)
    wanted = {r.id for r in rule_engine.select_rules(all_rules(), args.only)} if args.only else None
    findings = [f for f in report.findings if wanted is None or f.rule in wanted]
    plan = build_plan(facts, findings, context=report.findings)
    data: dict[str, Any] = {"schema": render.FIX_SCHEMA, "root": root.label}
    data["plan"] = render.plan_json(plan)
    if not args.apply:
        _emit(args, render.plan_text(plan), data)
        return EXIT_FINDINGS if plan.actionable else EXIT_OK
    if not plan.actionable:
        _emit(args, render.plan_text(plan), data)
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(_("--apply without a terminal needs --yes"))
        sys.stderr.write(render.plan_text(plan))
        question = (
            _("apply {n} edit(s) to this node? [y/N] ")
            if root.live
            else _("apply {n} edit(s) to {root}? [y/N] ")
        )
        if not _confirm(question.format(n=len(plan.steps), root=root.label)):
            sys.stderr.write(_("nothing changed") + "\n")
            return EXIT_FINDINGS
    elif args.format == "text":
        sys.stdout.write(render.plan_text(plan))
    try:
        result = engine.apply(root, plan, restart=args.restart)
    except RefusedError as exc:
        data["refused"] = {"path": exc.path, "reason": exc.reason}
        _emit(args, _("nothing written: {error}").format(error=exc) + "\n", data)
        return EXIT_FINDINGS
    except engine.ApplyError as exc:
        data["failed"] = {"journal": exc.journal_id, "written": exc.written, "error": str(exc)}
        _emit(args, _("apply stopped: {error}").format(error=exc) + "\n", data)
        return EXIT_FINDINGS
    # Re-check from a fresh view of the node: the facts above describe the old files.
    after = rule_engine.run(
        Facts(
            open_root(args),
            profile=args.profile,
            role=args.role,
            kubernetes_version=args.kubernetes_version,
        ),
        rules,
    )
    outcomes = engine.outcomes(plan, result, findings, after)
    appeared = engine.appeared(list(report.findings), after)
    data["applied"] = render.apply_json(result, outcomes, appeared)
    _emit(args, render.apply_text(result, outcomes, appeared), data)
    bad = any(o.status == "still-wrong" for o in outcomes)
    failed = any(not c.ok for c in [*result.commands, *result.restarts])
    return EXIT_FINDINGS if bad or failed else EXIT_OK


def run_rollback(args: argparse.Namespace) -> int:
    from nodedoctor.fix import journal, render, undo

    if getattr(args, "bundle", None):
        raise UsageError(_("rollback works on a node or a --root directory, not a bundle"))
    root = open_root(args)
    if root.live:
        from nodedoctor.cli.clean import rollback_clean

        done = rollback_clean(args)
        if done is not None:
            return done
    try:
        entry = journal.find(root, args.journal_id)
    except journal.JournalError as exc:
        raise UsageError(str(exc)) from None
    try:
        result = undo.rollback(root, entry, force=args.force)
    except journal.JournalError as exc:
        raise UsageError(str(exc)) from None
    _emit(args, render.rollback_text(result), render.rollback_json(result))
    failed = any(not c.ok for c in result.commands)
    return EXIT_FINDINGS if result.refused or failed else EXIT_OK


def run_journal(args: argparse.Namespace) -> int:
    from nodedoctor.fix import journal, render

    root = open_root(args)
    found = journal.scan(root)
    text, data = render.journal_text(found), render.journal_json(found)
    if root.live:
        from nodedoctor.cli.clean import clean_journal_listing

        text, data = clean_journal_listing(text, data)
    _emit(args, text, data)
    return EXIT_OK
