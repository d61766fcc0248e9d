"""Clean plans and results for people (text) and programs (JSON, ``nodedoctor/clean/v1``)."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from typing import TextIO

from nodedoctor.clean.engine import ApplyResult
from nodedoctor.clean.plan import CleanPlan
from nodedoctor.clean.steps import Step
from nodedoctor.i18n import N_, _
from nodedoctor.render.text import columns

SCHEMA = "nodedoctor/clean/v1"

#: The words of the text plan's first column, as people read them (the JSON keeps the
#: action and status themselves).
_LABELS = {
    "unmount": N_("unmount"),
    "rmdir": N_("rmdir"),
    "move": N_("move"),
    "delete-link": N_("delete-link"),
    "remove-chains": N_("remove-chains"),
    "delete-table": N_("delete-table"),
    "keep": N_("keep"),
    "note": N_("note"),
    "blocked": N_("blocked"),
    "stopped": N_("stopped"),
    "journal": N_("journal"),
    "done": N_("done"),
    "detached": N_("detached"),
    "gone": N_("gone"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "not-restored": N_("not-restored"),
    "why": N_("why"),
}


def label(word: str, width: int) -> str:
    """``word`` (an action, a status) in the current language, padded to ``width`` display
    columns."""
    text = _(_LABELS[word]) if word in _LABELS else word
    return text + " " * max(0, width - columns(text))


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


def _plan_lines(plan: CleanPlan, indent: str = "") -> Iterator[str]:
    """The plan's lines, one at a time: 100,000 steps are 340,000 lines (18 MiB), which as a
    list and then one string would cost twice that in peak memory."""
    told: set[str] = set()
    # The labels once: a teardown has 100,000 steps, and a lookup costs microseconds.
    why, source = label("why", 4), _("from")
    actions = {a: label(a, 8) for a in {s.action for s in plan.steps}}
    for step in plan.steps:
        yield f"{indent}{actions[step.action]} {step.path}  ({_what(step)})"
        if step.reason not in told:
            # Each reason once: a teardown has dozens of volume mounts and pod cgroups.
            told.add(step.reason)
            yield f"{indent}           {why} {step.reason}"
        if step.evidence.line is not None:
            yield f"{indent}           {source} {step.evidence.source}:{step.evidence.line}"
    keep = label("keep", 8)
    for kept in plan.kept:
        yield f"{indent}{keep} {kept.path}  ({kept.kind}) {kept.reason}"
    for note in plan.notes:
        yield f"{indent}{label('note', 8)} {note}"


def _what(step: Step) -> str:
    if step.action == "unmount":
        return _("{fstype} from {source}").format(fstype=step.fstype, source=step.source)
    if step.action == "rmdir":
        return "cgroup"
    if step.action == "remove-chains":
        shown = ", ".join(step.chains[:4]) + (", ..." if len(step.chains) > 4 else "")
        return _("{n} chain(s): {chains}").format(n=len(step.chains), chains=shown)
    return step.kind


def _counts(steps: tuple[Step, ...]) -> str:
    labels = {
        "unmount": N_("{n} unmount(s)"),
        "rmdir": N_("{n} empty cgroup(s) to remove"),
        "move": N_("{n} path(s) to move into the journal"),
        "delete-link": N_("{n} interface(s) to delete"),
        "remove-chains": N_("{n} iptables table(s) to clear"),
        "delete-table": N_("{n} nftables table(s) to delete"),
    }
    counts = {a: sum(1 for s in steps if s.action == a) for a in labels}
    shown = [_(labels[a]).format(n=n) for a, n in counts.items() if n or a in ("unmount", "rmdir")]
    return ", ".join(shown)


def plan_text(plan: CleanPlan, applying: bool = False) -> str:
    buffer = io.StringIO()
    write_plan_text(buffer, plan, applying)
    return buffer.getvalue()


def write_plan_text(stream: TextIO, plan: CleanPlan, applying: bool = False) -> None:
    """The plan for people, written line by line (:func:`_plan_lines`)."""
    title = (
        _("nodedoctor clean · {root} (live)")
        if plan.live
        else _("nodedoctor clean · {root} (offline: plan only)")
    )
    head = [title.format(root=plan.root), ""]
    if not plan.steps:
        head.append(_("nothing to clean"))
    stream.write("\n".join(head) + "\n")
    for batch in _batches(_plan_lines(plan)):
        stream.write(batch)
    lines: list[str] = []
    if plan.blockers:
        names = ", ".join(f"{b.comm} (pid {b.pid})" for b in plan.blockers)
        refuses = _("running: {names}; --apply refuses unless --stop or --force")
        lines += ["", f"{label('blocked', 8)} " + refuses.format(names=names)]
    elif not plan.blockers_known:
        unknown = _("whether the kubelet or runtime runs is unknown in this root")
        lines += ["", f"{label('note', 8)} {unknown}"]
    if plan.steps:
        lines += ["", _counts(plan.steps)]
        if plan.live and not applying:
            lines.append(_("apply with: nodedoctor clean --apply"))
    if lines:
        stream.write("\n".join(lines) + "\n")


def _batches(lines: Iterator[str], size: int = 4096) -> Iterator[str]:
    """``lines`` joined a few thousand at a time (a write per line costs more than it)."""
    while True:
        batch = list(itertools.islice(lines, size))
        if not batch:
            return
        yield "\n".join(batch) + "\n"


def result_text(plan: CleanPlan, result: ApplyResult) -> str:
    lines = [_("nodedoctor clean · {root} (applied)").format(root=plan.root), ""]
    for unit in result.stopped:
        lines.append(f"{label('stopped', 8)} {unit}")
    for o in result.outcomes:
        lines.append(f"{label(o.status, 8)} {o.step.action} {o.step.path}: {o.detail}")
    if result.journal:
        lines.append(
            f"{label('journal', 8)} "
            + _("{id}: 'nodedoctor rollback {id}' brings it back").format(id=result.journal)
        )
    lines.append("")
    left = result.after
    if not left.steps:
        lines.append(_("verified: nothing left to clean"))
    else:
        lines.append(_("left: {n} item(s) still to clean").format(n=len(left.steps)))
    lines += list(_plan_lines(left, indent="  ")) if left.steps or left.kept else []
    return "\n".join(lines) + "\n"
