"""Clean plans and results for people (text) and programs (JSON, ``nodedoctor/clean/v1``)."""

from __future__ import annotations

import io
import json
from typing import TextIO

from nodedoctor.clean.engine import ApplyResult
from nodedoctor.clean.plan import CleanPlan
from nodedoctor.clean.steps import Step

SCHEMA = "nodedoctor/clean/v1"


def write_plan_json(stream: TextIO, plan: CleanPlan, result: ApplyResult | None = None) -> None:
    """The plan (and what applying it did) as JSON, written piece by piece: a teardown of
    100,000 mounts is 70 MB of JSON, which as one string (and json's list of its pieces)
    would more than double the run's peak memory."""
    out: dict[str, object] = {"schema": SCHEMA, "mode": "apply" if result else "plan"}
    out["plan"] = plan.to_json()
    if result is not None:
        out["outcomes"] = [o.to_json() for o in result.outcomes]
        out["stopped"] = list(result.stopped)
        out["left"] = result.after.to_json()
        out["complete"] = result.complete
        out["journal"] = result.journal
    _write_json(stream, out, level=0)
    stream.write("\n")


#: Levels written indented; deeper values (one step, one outcome) each on one line. json's
#: indenting encoder is its pure-Python one, 1 µs a token: 100,000 steps took 2.4 s of it.
_INDENTED_LEVELS = 3
_flat = json.JSONEncoder(separators=(", ", ": ")).encode


def _write_json(stream: TextIO, value: object, level: int) -> None:
    """``value`` as JSON, its first levels indented by two and each deeper value on one line
    by the C encoder, written piece by piece (a teardown of 100,000 mounts is 70 MB of JSON:
    as one string it would double the run's peak memory)."""
    if level >= _INDENTED_LEVELS or not isinstance(value, (dict, list)) or not value:
        stream.write(_flat(value))
        return
    pad = "\n" + "  " * (level + 1)
    close, items = ("}", value.items()) if isinstance(value, dict) else ("]", value)
    stream.write("{" if close == "}" else "[")
    for i, item in enumerate(items):
        stream.write(pad if i == 0 else "," + pad)
        if close == "}":
            stream.write(_flat(str(item[0])) + ": ")
        _write_json(stream, item[1] if close == "}" else item, level + 1)
    stream.write("\n" + "  " * level + close)


def plan_json(plan: CleanPlan, result: ApplyResult | None = None) -> str:
    buffer = io.StringIO()
    write_plan_json(buffer, plan, result)
    return buffer.getvalue()


def _plan_lines(plan: CleanPlan, indent: str = "") -> list[str]:
    lines: list[str] = []
    told: set[str] = set()
    for step in plan.steps:
        lines.append(f"{indent}{step.action:<8} {step.path}  ({_what(step)})")
        if step.reason not in told:
            # Each reason once: a teardown has dozens of volume mounts and pod cgroups.
            told.add(step.reason)
            lines.append(f"{indent}           why  {step.reason}")
        if step.evidence.line is not None:
            lines.append(f"{indent}           from {step.evidence.source}:{step.evidence.line}")
    for kept in plan.kept:
        lines.append(f"{indent}keep     {kept.path}  ({kept.kind}) {kept.reason}")
    for note in plan.notes:
        lines.append(f"{indent}note     {note}")
    return lines


def _what(step: Step) -> str:
    if step.action == "unmount":
        return f"{step.fstype} from {step.source}"
    if step.action == "rmdir":
        return "cgroup"
    if step.action == "remove-chains":
        shown = ", ".join(step.chains[:4]) + (", ..." if len(step.chains) > 4 else "")
        return f"{len(step.chains)} chain(s): {shown}"
    return step.kind


def _counts(steps: tuple[Step, ...]) -> str:
    labels = {
        "unmount": "unmount(s)",
        "rmdir": "empty cgroup(s) to remove",
        "move": "path(s) to move into the journal",
        "delete-link": "interface(s) to delete",
        "remove-chains": "iptables table(s) to clear",
        "delete-table": "nftables table(s) to delete",
    }
    counts = {a: sum(1 for s in steps if s.action == a) for a in labels}
    shown = [f"{n} {labels[a]}" for a, n in counts.items() if n or a in ("unmount", "rmdir")]
    return ", ".join(shown)


def plan_text(plan: CleanPlan, applying: bool = False) -> str:
    mode = "live" if plan.live else "offline: plan only"
    lines = [f"nodedoctor clean · {plan.root} ({mode})", ""]
    if not plan.steps:
        lines.append("nothing to clean")
    lines += _plan_lines(plan)
    if plan.blockers:
        names = ", ".join(f"{b.comm} (pid {b.pid})" for b in plan.blockers)
        lines += ["", f"blocked  running: {names}; --apply refuses unless --stop or --force"]
    elif not plan.blockers_known:
        lines += ["", "note     whether the kubelet or runtime runs is unknown in this root"]
    if plan.steps:
        lines += ["", _counts(plan.steps)]
        if plan.live and not applying:
            lines.append("apply with: nodedoctor clean --apply")
    return "\n".join(lines) + "\n"


def result_text(plan: CleanPlan, result: ApplyResult) -> str:
    lines = [f"nodedoctor clean · {plan.root} (applied)", ""]
    for unit in result.stopped:
        lines.append(f"stopped  {unit}")
    for o in result.outcomes:
        lines.append(f"{o.status:<8} {o.step.action} {o.step.path}: {o.detail}")
    if result.journal:
        lines.append(
            f"journal  {result.journal}: 'nodedoctor rollback {result.journal}' brings it back"
        )
    lines.append("")
    left = result.after
    if not left.steps:
        lines.append("verified: nothing left to clean")
    else:
        lines.append(f"left: {len(left.steps)} item(s) still to clean")
    lines += _plan_lines(left, indent="  ") if left.steps or left.kept else []
    return "\n".join(lines) + "\n"
