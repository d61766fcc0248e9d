"""The planner: the remedies the findings carry, carried out into one plan.

Each finding's remedy was decided by its rule (``Finding.remedy``); the planner records its
steps in :data:`~nodedoctor.remedies.steps.PLAN_ORDER`, through the appliers, into a workspace
that sees the edits planned before (two findings in one file chain). A finding without a
remedy is one the tool has no fix for. A remedy that cannot be carried out (a
:class:`~nodedoctor.remedies.steps.Refuse` step, a file an editor refuses, a path that leaves
the root) is a refusal, and nothing of it is planned.
"""

from __future__ import annotations

from collections.abc import Sequence

from nodedoctor.facts import Facts
from nodedoctor.fix.appliers import apply_steps
from nodedoctor.fix.plan import Plan, Workspace
from nodedoctor.fix.textedit import EditError
from nodedoctor.i18n import _
from nodedoctor.model import Finding
from nodedoctor.remedies.steps import PLAN_ORDER, RunNow
from nodedoctor.sources.root import UnsafePathError


def build_plan(
    facts: Facts, findings: Sequence[Finding], context: Sequence[Finding] | None = None
) -> Plan:
    """Carry out the remedy of each finding, in plan order, and collect the plan.

    ``context``: every finding of the run (default ``findings``); a remedy may wait for
    another's cause (``Remedy.unless_found``), e.g. a workaround left alone while its cause
    is still found, even under ``--only``."""
    ws = Workspace(facts, tuple(findings if context is None else context))
    found = {f.rule for f in ws.findings}
    order = {rule: i for i, rule in enumerate(PLAN_ORDER)}
    addressed: list[str] = []
    unfixable: list[str] = []
    for finding in sorted(findings, key=lambda f: order.get(f.rule, len(order))):
        remedy = finding.remedy
        if remedy is None:
            if finding.rule not in unfixable:
                unfixable.append(finding.rule)
            continue
        snapshot = ws.snapshot()
        chosen = remedy.chosen(found)
        try:
            apply_steps(ws, chosen, finding)
        except EditError as exc:
            ws.restore(snapshot)
            ws.refuse(finding.rule, exc.path, str(exc))
            continue
        except UnsafePathError as exc:
            ws.restore(snapshot)
            ws.refuse(finding.rule, None, _("refused: {error}").format(error=exc))
            continue
        if not ws.edited_since(snapshot):
            # A command regenerates or reloads what an edit changed: with no edit (the files
            # are already right), running it again would make the plan never converge.
            ws.drop_commands_since(snapshot)
            # Live, what applies the files' state to the running kernel is needed all the
            # same (an offline root runs no command: the remedy says it takes effect at boot).
            for step in chosen:
                if isinstance(step, RunNow) and facts.live:
                    ws.run(step.argv, finding.rule, step.why)
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
