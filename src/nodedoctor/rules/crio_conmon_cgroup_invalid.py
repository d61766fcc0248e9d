"""crio-conmon-cgroup-invalid: CRI-O's conmon_cgroup does not fit its cgroup_manager (research
runtimes.md §2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.crio import UNSET_REFUSED_TEXT, crio_facts
from nodedoctor.facts.versions import Version
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_conmon(facts: Facts) -> Iterator[Issue]:
    cr = facts.get(crio_facts)
    if not cr.present:
        raise SkipRuleError("CRI-O is not installed")
    if cr.unknown:
        raise SkipRuleError(cr.unknown)
    manager = cr.cgroup_manager
    for p in cr.problems:
        key = "conmon_cgroup" if p.handler is None else f"monitor_cgroup of runtime {p.handler}"
        good = '"pod"' + (' or a ".slice"' if manager and manager.value == "systemd" else "")
        if p.value:
            title = (
                f"CRI-O refuses {key} = {p.value!r} with cgroup_manager "
                f"{manager.value if manager else '?'}"
            )
            message = f"CRI-O fails to start: `{p.message}`"
            evidence = (p.evidence, *((manager.evidence,) if manager else ()))
        else:
            # cgroupfs with conmon_cgroup unset: refused by some releases only.
            who = _crio(cr.version.value) if cr.version else f"{UNSET_REFUSED_TEXT} refuse"
            title = f"{who} cgroup_manager cgroupfs without conmon_cgroup"
            message = (
                ("CRI-O's version is unknown here. " if p.versions else "")
                + f"{UNSET_REFUSED_TEXT} give an unset monitor cgroup the default "
                "system.slice, which the cgroupfs manager refuses: CRI-O fails to start with "
                f"`{p.message}`; 1.33.0 and later leave it empty and start (cri-o a4c67cc6c2)"
            )
            evidence = (p.evidence, *p.also, *((cr.version.evidence,) if cr.version else ()))
        from nodedoctor.remedies.crio import conmon_remedy  # only for a finding

        yield Issue(
            title=title,
            message=message,
            evidence=evidence,
            severity=Severity.WARNING if p.versions else None,
            fix=FixHint(
                summary=f"set {key.split(maxsplit=1)[0]} = {good} in {p.file} (the file that "
                "wins), then restart crio",
                files=(p.file,),
                restart=("crio",),
            ),
            impact=(f"on {p.versions} " if p.versions else "")
            + "crio does not start; the kubelet cannot reach the runtime and the node "
            "stays NotReady",
            remedy=conmon_remedy(facts),
        )


def _crio(version: Version) -> str:
    return f"CRI-O {version.release[0]}.{version.release[1]} refuses"


RULE = Rule(
    id="crio-conmon-cgroup-invalid",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="CRI-O's conmon_cgroup does not fit its cgroup_manager",
    check=_check_conmon,
    tags=("cri-o", "cgroup", "runtime"),
    applies_to="CRI-O; system.slice with cgroupfs, or cgroupfs without conmon_cgroup from "
    "1.25.1, only before 1.33",
)
