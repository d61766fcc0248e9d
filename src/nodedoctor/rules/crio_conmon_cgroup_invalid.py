"""crio-conmon-cgroup-invalid: CRI-O's conmon_cgroup does not fit its cgroup_manager (research
runtimes.md §2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.crio import crio_facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.remedies.crio import conmon_remedy
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
        yield Issue(
            title=f"CRI-O refuses {key} = {p.value!r} with cgroup_manager "
            f"{manager.value if manager else '?'}",
            message=f"CRI-O fails to start: `{p.message}`",
            evidence=(p.evidence, *((manager.evidence,) if manager else ())),
            fix=FixHint(
                summary=f"set {key.split(maxsplit=1)[0]} = {good} in {p.file} (the file that "
                "wins), then restart crio",
                files=(p.file,),
                restart=("crio",),
            ),
            impact="crio does not start; the kubelet cannot reach the runtime and the node "
            "stays NotReady",
            remedy=conmon_remedy(facts),
        )


RULE = Rule(
    id="crio-conmon-cgroup-invalid",
    severity=Severity.ERROR,
    title="CRI-O's conmon_cgroup does not fit its cgroup_manager",
    check=_check_conmon,
    tags=("cri-o", "cgroup", "runtime"),
    applies_to="CRI-O; system.slice with cgroupfs only before 1.33",
)
