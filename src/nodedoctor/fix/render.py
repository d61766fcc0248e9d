"""Plans, apply results, rollbacks and the journal, for people (text) and programs (JSON)."""

from __future__ import annotations

import time
from typing import Any

from nodedoctor.fix.engine import ApplyResult, CommandRun, Outcome, unified_diff
from nodedoctor.fix.journal import Scan
from nodedoctor.fix.plan import Plan
from nodedoctor.fix.undo import RollbackResult
from nodedoctor.i18n import N_, _
from nodedoctor.model import Finding
from nodedoctor.render.text import columns

FIX_SCHEMA = "nodedoctor/fix/v1"
#: An outcome's status as people read it (the JSON keeps the status itself).
_STATUS = {
    "fixed": N_("fixed"),
    "needs-reboot": N_("needs-reboot"),
    "needs-restart": N_("needs-restart"),
    "manual": N_("manual"),
    "still-wrong": N_("still-wrong"),
}


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` display columns (a wide character takes two)."""
    return text + " " * max(0, width - columns(text))


def _ran(c: CommandRun) -> list[str]:
    """A command that ran, and its output when it failed."""
    status = _("ok") if c.ok else _("FAILED ({code})").format(code=c.returncode)
    out = [_("ran {command}: {status}").format(command=" ".join(c.argv), status=status)]
    if not c.ok and c.output.strip():
        out.append("  " + c.output.strip().replace("\n", "\n  "))
    return out


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "steps": [
            {
                "path": s.path,
                "kind": s.kind.value,
                "rules": list(s.rules),
                "reasons": [{"rule": r.rule, "description": r.description} for r in s.reasons],
                "sha256_before": s.original_sha256,
                "sha256_after": s.new_sha256,
                "diff": unified_diff(s),
            }
            for s in plan.steps
        ],
        "commands": [{"argv": list(c.argv), "rule": c.rule, "why": c.why} for c in plan.commands],
        "restart": [
            {"service": r.service, "argv": list(r.argv), "rule": r.rules[0], "rules": list(r.rules)}
            for r in plan.restarts
        ],
        "reboot": {"required": plan.reboot_required, "rules": list(plan.reboot)},
        "will_not_do": [
            {"rule": i.rule, "instruction": i.text, "why": i.why} for i in plan.instructions
        ],
        "refused": [{"rule": r.rule, "path": r.path, "reason": r.reason} for r in plan.refusals],
        "addressed": list(plan.addressed),
        "no_fixer": list(plan.unfixable),
    }


def plan_text(plan: Plan) -> str:
    out: list[str] = []
    if not plan.steps and not plan.commands:
        out.append(_("nothing to fix: no edits planned"))
    for s in plan.steps:
        verb = _("create {path}") if s.kind.value == "create" else _("edit {path}")
        out.append(verb.format(path=s.path))
        for r in s.reasons:
            out.append(
                "  " + _("for {rule}: {description}").format(rule=r.rule, description=r.description)
            )
        out.append(unified_diff(s).rstrip("\n"))
        out.append("")
    if plan.commands:
        out.append(_("commands (run on a live node with --apply):"))
        out += [f"  {c.display}    # {c.why}" for c in plan.commands]
    if plan.restarts:
        out.append(_("services to restart (only with --restart, live):"))
        out += [
            f"  {' '.join(r.argv)}    # " + _("for {rules}").format(rules=", ".join(r.rules))
            for r in plan.restarts
        ]
    if plan.reboot_required:
        out.append(
            _("reboot required afterwards (for {rules}); never done by nodedoctor").format(
                rules=", ".join(plan.reboot)
            )
        )
    if plan.instructions:
        out.append(_("will not do (do it by hand):"))
        for i in plan.instructions:
            out.append(f"  {i.rule}: {i.text}")
            out.append("    " + _("why not: {why}").format(why=i.why))
    if plan.refusals:
        out.append(_("refused:"))
        out += [f"  {r.rule}: {r.reason}" for r in plan.refusals]
    if plan.unfixable:
        out.append(
            _("no automatic fix for: {rules} (see 'nodedoctor explain ID')").format(
                rules=", ".join(plan.unfixable)
            )
        )
    return "\n".join(out).rstrip("\n") + "\n"


def apply_json(
    result: ApplyResult, outcomes: list[Outcome], appeared: list[Finding]
) -> dict[str, Any]:
    return {
        "journal": result.journal_id,
        "written": result.written,
        "commands": [
            {"argv": list(c.argv), "returncode": c.returncode, "output": c.output}
            for c in result.commands
        ],
        "restarted": [
            {"argv": list(c.argv), "returncode": c.returncode, "output": c.output}
            for c in result.restarts
        ],
        "not_run": [{"command": c, "why": w} for c, w in result.not_run],
        "outcomes": [{"rule": o.rule, "status": o.status, "detail": o.detail} for o in outcomes],
        "appeared": [
            {"rule": f.rule, "severity": f.severity.value, "title": f.title} for f in appeared
        ],
    }


def apply_text(result: ApplyResult, outcomes: list[Outcome], appeared: list[Finding]) -> str:
    out: list[str] = []
    for path in result.written:
        out.append(_("wrote {path}").format(path=path))
    if result.journal_id:
        out.append(_("journal {id} (undo: nodedoctor rollback {id})").format(id=result.journal_id))
    for c in [*result.commands, *result.restarts]:
        out += _ran(c)
    for cmd, why in result.not_run:
        out.append(_("not run: {command} ({why})").format(command=cmd, why=why))
    for o in outcomes:
        status = _(_STATUS[o.status]) if o.status in _STATUS else o.status
        out.append(f"{_pad(status, 13)} {o.rule}" + (f"  {o.detail}" if o.detail else ""))
    for f in appeared:
        out.append(f"{_pad(_('now found'), 13)} {f.rule}  {f.title}")
    return "\n".join(out) + "\n"


def _command_json(runs: list[CommandRun]) -> list[dict[str, Any]]:
    return [{"argv": list(c.argv), "returncode": c.returncode, "output": c.output} for c in runs]


def rollback_json(result: RollbackResult) -> dict[str, Any]:
    return {
        "journal": result.entry_id,
        "refused": result.refused,
        "interrupted": result.interrupted,
        "restored": result.restored,
        "removed": result.removed,
        "unchanged": result.unchanged,
        "removed_dirs": result.removed_dirs,
        "cleaned": result.cleaned,
        "changed_since": [{"path": p, "why": w} for p, w in result.changed_since],
        "commands": _command_json(result.commands),
        "not_run": [{"command": c, "why": w} for c, w in result.not_run],
    }


def rollback_text(result: RollbackResult) -> str:
    out: list[str] = []
    if result.refused:
        out.append(
            _("rollback of {id} refused: files changed since the apply").format(id=result.entry_id)
        )
        out += [f"  {p}: {w}" for p, w in result.changed_since]
        out.append("  " + _("(--force restores them anyway, losing those changes)"))
        return "\n".join(out) + "\n"
    if result.interrupted:
        what = (
            _("finishing the interrupted rollback {id} ({state})")
            if result.interrupted == "rolling-back"
            else _("finishing the interrupted apply {id} ({state})")
        )
        out.append(what.format(id=result.entry_id, state=result.interrupted))
    out += [_("restored {path}").format(path=p) for p in result.restored]
    out += [_("removed {path} (created by the apply)").format(path=p) for p in result.removed]
    out += [_("unchanged {path}").format(path=p) for p in result.unchanged]
    out += [_("removed {path}/ (created by the apply)").format(path=p) for p in result.removed_dirs]
    out += [
        _("removed {path} (a temp file left by a killed run)").format(path=p)
        for p in result.cleaned
    ]
    out += [
        _("overwrote {path} ({why}, --force)").format(path=p, why=w)
        for p, w in result.changed_since
    ]
    for c in result.commands:
        out += _ran(c)
    for cmd, why in result.not_run:
        out.append(_("not run: {command} ({why})").format(command=cmd, why=why))
    out.append(_("rolled back {id}").format(id=result.entry_id))
    return "\n".join(out) + "\n"


_STAGING = N_(
    "an apply stopped before its journal entry was complete; nothing was written; the next "
    "apply or rollback removes it"
)


def journal_json(found: Scan) -> list[dict[str, Any]]:
    """Every entry (oldest first, ``interrupted`` true for an apply or rollback that
    stopped), then the damaged ones (``state: damaged`` and the ``error``), then applies
    killed before their entry was complete (``state: staging``: nothing was written)."""
    out: list[dict[str, Any]] = [
        {**e.to_json(), "interrupted": e.interrupted} for e in found.entries
    ]
    out += [
        {"id": d.id, "state": "damaged", "interrupted": False, "error": d.error}
        for d in found.damaged
    ]
    out += [
        {
            "id": s,
            "state": "staging",
            "interrupted": True,
            "error": _(_STAGING),
        }
        for s in found.staging
    ]
    return out


def journal_text(found: Scan) -> str:
    if not found.entries and not found.damaged and not found.staging:
        return _("no fixes applied yet") + "\n"
    out = []
    for e in found.entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created))
        files = ", ".join(f.path for f in e.files)
        state = (
            _("interrupted ({state}): 'nodedoctor rollback {id}' finishes undoing it").format(
                state=e.state, id=e.id
            )
            if e.interrupted
            else e.state
        )
        out.append(f"{e.id}  {when} UTC  {_pad(state, 11)}  {', '.join(e.rules)}  [{files}]")
    for d in found.damaged:
        out.append(f"{d.id}  " + _("damaged: {error}").format(error=d.error))
    for sid in found.staging:
        out.append(f"{sid}  " + _("staging: {what}").format(what=_(_STAGING)))
    return "\n".join(out) + "\n"
