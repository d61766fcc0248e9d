"""Fixers, registered explicitly per rule id, and the planner that runs them.

A fixer is ``fix(workspace, finding) -> None``: it reads the node through the workspace
(``read_text`` sees earlier fixers' planned edits), asks the facts modules where things
are, and records file edits, commands, restarts, a reboot, instructions or refusals. It
raises :class:`~nodedoctor.fix.textedit.EditError` for a file it cannot edit safely; the
planner records that as a refusal naming the file, and plans nothing for the finding.
"""

from __future__ import annotations

from collections.abc import Sequence

from nodedoctor.facts import Facts
from nodedoctor.fix.fixers.base import Fixer, FixerEntry
from nodedoctor.fix.plan import Plan, Workspace
from nodedoctor.fix.textedit import EditError
from nodedoctor.model import Finding
from nodedoctor.sources.root import UnsafePathError


def registry() -> tuple[FixerEntry, ...]:
    """Every fixer, in the order plans apply them (the list is the registration)."""
    from nodedoctor.fix.fixers import boot, containerd, crio, instructions, kubelet

    entries: list[FixerEntry] = [
        *boot.FIXERS,
        *containerd.FIXERS,
        *crio.FIXERS,
        *kubelet.FIXERS,
        *instructions.FIXERS,
    ]
    seen: set[str] = set()
    for e in entries:
        if e.rule in seen:
            raise ValueError(f"two fixers for rule {e.rule!r}")
        seen.add(e.rule)
    return tuple(entries)


def fixer_for(rule: str) -> Fixer | None:
    for entry in registry():
        if entry.rule == rule:
            return entry.fix
    return None


def build_plan(
    facts: Facts, findings: Sequence[Finding], context: Sequence[Finding] | None = None
) -> Plan:
    """Run the fixer of each finding, in registry order, and collect the plan.

    ``context``: every finding of the run (default ``findings``); fixers consult it, e.g. to
    leave a workaround alone while its cause is still found, even under ``--only``."""
    ws = Workspace(facts, tuple(findings if context is None else context))
    order = {e.rule: i for i, e in enumerate(registry())}
    addressed: list[str] = []
    unfixable: list[str] = []
    for finding in sorted(findings, key=lambda f: order.get(f.rule, len(order))):
        fix = fixer_for(finding.rule)
        if fix is None:
            if finding.rule not in unfixable:
                unfixable.append(finding.rule)
            continue
        snapshot = ws.snapshot()
        try:
            fix(ws, finding)
        except EditError as exc:
            ws.restore(snapshot)
            ws.refuse(finding.rule, exc.path, str(exc))
            continue
        except UnsafePathError as exc:
            ws.restore(snapshot)
            ws.refuse(finding.rule, None, f"refused: {exc}")
            continue
        if not ws.edited_since(snapshot):
            # A command regenerates or reloads what an edit changed: with no edit (the files
            # are already right), running it again would make the plan never converge.
            ws.drop_commands_since(snapshot)
        if finding.rule not in addressed:
            addressed.append(finding.rule)
    return Plan(
        steps=ws.steps(),
        commands=tuple(ws.commands),
        restarts=tuple(ws.restarts),
        reboot=tuple(ws.reboot),
        after_restart=tuple(ws.after_restart),
        instructions=tuple(ws.instructions),
        refusals=tuple(ws.refusals),
        addressed=tuple(addressed),
        unfixable=tuple(unfixable),
    )
