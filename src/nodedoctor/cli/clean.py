"""``nodedoctor clean``: plan, then (``--apply``) remove what a torn-down cluster left."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nodedoctor.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_root_options,
    open_root,
)
from nodedoctor.cli.helptext import help_kwargs
from nodedoctor.i18n import _


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "clean",
        help=_(
            "plan (and with --apply, do) the teardown kubeadm reset and kk delete cluster "
            "leave undone: foreign cgroup mounts, CNI bpffs and netns, kubelet mounts, empty "
            "kubepods cgroups, orphaned pod directories, CNI configuration, state, interfaces "
            "and rules, kubeadm's files (kept in a journal: nodedoctor rollback)"
        ),
        **help_kwargs("clean"),
    )
    add_root_options(p)
    p.add_argument("--apply", action="store_true", help=_("do it (live only); default: plan"))
    p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    p.add_argument(
        "--force",
        action="store_true",
        help=_("apply even while the kubelet or container runtime runs"),
    )
    p.add_argument(
        "--stop",
        action="store_true",
        help=_("stop the kubelet, then the runtime, through systemd before anything is removed"),
    )
    p.add_argument("--format", default="text", choices=["text", "json"])
    # For tests: a private cgroup subtree instead of /sys/fs/cgroup (also
    # NODEDOCTOR_CGROUP_ROOT); see nodedoctor.clean.plan.
    p.add_argument("--cgroup-root", metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _confirm(count: int) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(_("--apply without a terminal needs --yes"))
    sys.stderr.write(_("remove {n} item(s) as planned above? [y/N] ").format(n=count))
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    from nodedoctor.clean.engine import CleanRefusedError, apply_plan
    from nodedoctor.clean.plan import plan_clean
    from nodedoctor.clean.render import result_text, write_plan_json, write_plan_text
    from nodedoctor.facts import Facts

    root = open_root(args)
    if args.apply and not root.live:
        raise UsageError(_("--apply works on this machine only; an offline root is planned only"))
    plan = plan_clean(Facts(root, profile=args.profile), args.cgroup_root)
    if not args.apply:
        if args.format == "json":
            write_plan_json(sys.stdout, plan)
        else:
            write_plan_text(sys.stdout, plan)
        return EXIT_FINDINGS if plan.steps else EXIT_OK
    if args.format == "text":
        write_plan_text(sys.stdout, plan, applying=True)
    if not plan.steps:
        if args.format == "json":
            write_plan_json(sys.stdout, plan)
        return EXIT_OK
    if not args.yes and not _confirm(len(plan.steps)):
        sys.stderr.write(_("nodedoctor: nothing done") + "\n")
        return EXIT_FINDINGS
    try:
        result = apply_plan(plan, force=args.force, stop=args.stop, cgroup_root=args.cgroup_root)
    except CleanRefusedError as exc:
        sys.stderr.write(_("nodedoctor: clean refused: {error}").format(error=exc) + "\n")
        if args.format == "json":
            write_plan_json(sys.stdout, plan)
        return EXIT_USAGE
    if args.format == "json":
        write_plan_json(sys.stdout, plan, result)
    else:
        sys.stdout.write("\n" + result_text(plan, result))
    return EXIT_OK if result.complete else EXIT_FINDINGS


def rollback_clean(args: argparse.Namespace) -> int | None:
    """``nodedoctor rollback`` of a clean: the clean journal entry named, or, with no name,
    the newest apply of either kind when it is a clean's. ``None``: not a clean's."""
    import json

    from nodedoctor.clean import journal as clean_journal
    from nodedoctor.clean.rollback import rollback_clean as do_rollback
    from nodedoctor.clean.rollback import rollback_text
    from nodedoctor.fix import journal as fix_journal
    from nodedoctor.sources.root import live_root

    entry = clean_journal.find(args.journal_id)
    if entry is None:
        return None
    if args.journal_id is None:
        fixes = [e for e in fix_journal.entries(live_root()) if e.state != "rolled-back"]
        if fixes and fixes[-1].created > entry.created:
            return None
    try:
        result = do_rollback(entry, force=args.force)
    except clean_journal.CleanJournalError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(rollback_text(result))
    return EXIT_OK if result.complete else EXIT_FINDINGS


def clean_journal_listing(text: str, data: list[Any]) -> tuple[str, list[Any]]:
    """The fix journal's listing with the clean journal's entries after it."""
    import time

    from nodedoctor.clean import journal as clean_journal

    entries, damaged = clean_journal.scan()
    if not entries and not damaged:
        return text, data
    lines = [] if text.startswith(_("no fixes applied yet")) else [text.rstrip("\n")]
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created))
        kinds: dict[str, int] = {}
        for item in e.items:
            if item.state in ("done", "restored", "not-restored"):
                kinds[item.kind] = kinds.get(item.kind, 0) + 1
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or _("nothing removed")
        lines.append(f"{e.id}  {when} UTC  {e.state:<11}  clean  [{what}]")
    for entry_id, error in damaged:
        lines.append(f"{entry_id}  " + _("damaged: {error}").format(error=error))
    # The fix journal's damaged shape (schemas/fix-v1 journal_listing): listed, not undone.
    shown = [{"id": i, "state": "damaged", "interrupted": False, "error": e} for i, e in damaged]
    return "\n".join(lines) + "\n", [*data, *(e.to_json() for e in entries), *shown]
