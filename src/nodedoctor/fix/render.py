"""Plans, apply results, rollbacks and the journal, for people (text) and programs (JSON)."""

from __future__ import annotations

import time
from typing import Any

from nodedoctor.fix.engine import ApplyResult, CommandRun, Outcome, unified_diff
from nodedoctor.fix.journal import Scan
from nodedoctor.fix.plan import Plan
from nodedoctor.fix.undo import RollbackResult
from nodedoctor.model import Finding

FIX_SCHEMA = "nodedoctor/fix/v1"


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
        out.append("nothing to fix: no edits planned")
    for s in plan.steps:
        verb = "create" if s.kind.value == "create" else "edit"
        out.append(f"{verb} {s.path}")
        for r in s.reasons:
            out.append(f"  for {r.rule}: {r.description}")
        out.append(unified_diff(s).rstrip("\n"))
        out.append("")
    if plan.commands:
        out.append("commands (run on a live node with --apply):")
        out += [f"  {c.display}    # {c.why}" for c in plan.commands]
    if plan.restarts:
        out.append("services to restart (only with --restart, live):")
        out += [f"  {' '.join(r.argv)}    # for {', '.join(r.rules)}" for r in plan.restarts]
    if plan.reboot_required:
        out.append(
            f"reboot required afterwards (for {', '.join(plan.reboot)}); never done by nodedoctor"
        )
    if plan.instructions:
        out.append("will not do (do it by hand):")
        for i in plan.instructions:
            out.append(f"  {i.rule}: {i.text}")
            out.append(f"    why not: {i.why}")
    if plan.refusals:
        out.append("refused:")
        out += [f"  {r.rule}: {r.reason}" for r in plan.refusals]
    if plan.unfixable:
        out.append(
            "no automatic fix for: " + ", ".join(plan.unfixable) + " (see 'nodedoctor explain ID')"
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
        out.append(f"wrote {path}")
    if result.journal_id:
        out.append(f"journal {result.journal_id} (undo: nodedoctor rollback {result.journal_id})")
    for c in [*result.commands, *result.restarts]:
        status = "ok" if c.ok else f"FAILED ({c.returncode})"
        out.append(f"ran {' '.join(c.argv)}: {status}")
        if not c.ok and c.output.strip():
            out.append("  " + c.output.strip().replace("\n", "\n  "))
    for cmd, why in result.not_run:
        out.append(f"not run: {cmd} ({why})")
    for o in outcomes:
        out.append(f"{o.status:<13} {o.rule}" + (f"  {o.detail}" if o.detail else ""))
    for f in appeared:
        out.append(f"{'now found':<13} {f.rule}  {f.title}")
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
        out.append(f"rollback of {result.entry_id} refused: files changed since the apply")
        out += [f"  {p}: {w}" for p, w in result.changed_since]
        out.append("  (--force restores them anyway, losing those changes)")
        return "\n".join(out) + "\n"
    if result.interrupted:
        what = "rollback" if result.interrupted == "rolling-back" else "apply"
        out.append(f"finishing the interrupted {what} {result.entry_id} ({result.interrupted})")
    out += [f"restored {p}" for p in result.restored]
    out += [f"removed {p} (created by the apply)" for p in result.removed]
    out += [f"unchanged {p}" for p in result.unchanged]
    out += [f"removed {p}/ (created by the apply)" for p in result.removed_dirs]
    out += [f"removed {p} (a temp file left by a killed run)" for p in result.cleaned]
    out += [f"overwrote {p} ({w}, --force)" for p, w in result.changed_since]
    for c in result.commands:
        status = "ok" if c.ok else f"FAILED ({c.returncode})"
        out.append(f"ran {' '.join(c.argv)}: {status}")
        if not c.ok and c.output.strip():
            out.append("  " + c.output.strip().replace("\n", "\n  "))
    for cmd, why in result.not_run:
        out.append(f"not run: {cmd} ({why})")
    out.append(f"rolled back {result.entry_id}")
    return "\n".join(out) + "\n"


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
            "error": "an apply stopped before its journal entry was complete; nothing was "
            "written; the next apply or rollback removes it",
        }
        for s in found.staging
    ]
    return out


def journal_text(found: Scan) -> str:
    if not found.entries and not found.damaged and not found.staging:
        return "no fixes applied yet\n"
    out = []
    for e in found.entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created))
        files = ", ".join(f.path for f in e.files)
        state = (
            f"interrupted ({e.state}): 'nodedoctor rollback {e.id}' finishes undoing it"
            if e.interrupted
            else e.state
        )
        out.append(f"{e.id}  {when} UTC  {state:<11}  {', '.join(e.rules)}  [{files}]")
    for d in found.damaged:
        out.append(f"{d.id}  damaged: {d.error}")
    for sid in found.staging:
        out.append(
            f"{sid}  staging: an apply stopped before its journal entry was complete; "
            "nothing was written; the next apply or rollback removes it"
        )
    return "\n".join(out) + "\n"
