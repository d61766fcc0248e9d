"""qos-cgroups-disabled: the kubelet runs without QoS cgroups or node allocatable enforcement,
the MicroK8s crash-loop workaround (MicroK8s#4378; research kubelet-cgroups.md §2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import configured_kubelet, kubelet_restart
from nodedoctor.rules.base import Rule


def _check_qos_disabled(facts: Facts) -> Iterator[Issue]:
    k = configured_kubelet(facts)
    per_qos = k.setting("cgroupsPerQOS")
    enforce = k.setting("enforceNodeAllocatable")
    off = per_qos is not None and per_qos.value is False
    empty_enforce = (
        enforce is not None
        and not enforce.is_default
        and isinstance(enforce.value, list)
        and not enforce.value
    )
    if not off and not empty_enforce:
        return
    settings = [s for s in (per_qos if off else None, enforce if empty_enforce else None) if s]
    restart, commands = kubelet_restart(k)
    no_qos = _(
        "no QoS cgroups: Burstable and BestEffort pods are not separated from Guaranteed "
        "ones, so a BestEffort pod under memory pressure competes with Guaranteed pods"
    )
    no_enforce = _(
        "node allocatable is not enforced: pods together may use the memory and CPU reserved "
        "for the system and the kubelet"
    )
    if off and empty_enforce:
        cost = _("{no_qos}; {no_enforce}").format(no_qos=no_qos, no_enforce=no_enforce)
    else:
        cost = no_qos if off else no_enforce
    cause = ""
    cg = facts.get(cgroup_facts)
    if cg.mode is CgroupMode.V2 and cg.v2_root_controllers and cg.v2_root_subtree_control:
        lost = [
            c
            for c in ("cpu", "cpuset", "memory", "hugetlb", "pids")
            if c in cg.v2_root_controllers.value and c not in cg.v2_root_subtree_control.value
        ]
        if lost:
            cause = _(
                " The cause this works around is still present: /sys/fs/cgroup/"
                "cgroup.subtree_control lacks {controllers} (see "
                "cgroup-controller-not-delegated); fix that first."
            ).format(controllers=" ".join(lost))
        else:
            cause = _(" The root subtree_control now delegates every controller the kubelet needs.")
    texts = ", ".join(s.flag_text or s.evidence.text for s in settings)
    names = [s.flag_text or s.name for s in settings]
    if len(names) == 2:
        remove = _("remove {first} and {second} once the cause is fixed, then restart the kubelet")
        summary = remove.format(first=names[0], second=names[1])
    else:
        summary = _("remove {setting} once the cause is fixed, then restart the kubelet").format(
            setting=names[0]
        )
    from nodedoctor.remedies.kubelet import qos_remedy  # only for a finding

    yield Issue(
        title=_("QoS cgroups or node allocatable enforcement are turned off"),
        message=_(
            "the kubelet runs with {settings}, the workaround for the MicroK8s "
            '"root container [kubepods] doesn\'t exist" crash loop (MicroK8s#4378). Cost: '
            "{cost}.{cause}"
        ).format(settings=texts, cost=cost, cause=cause),
        evidence=tuple(s.evidence for s in settings),
        fix=FixHint(
            summary=summary,
            files=tuple(dict.fromkeys(s.evidence.source for s in settings)),
            restart=restart,
            commands=commands,
        ),
        impact=_("pods lose QoS isolation; Guaranteed pods are not protected"),
        remedy=qos_remedy(facts),
    )


RULE = Rule(
    id="qos-cgroups-disabled",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    title=N_("the kubelet runs without QoS cgroups or node allocatable enforcement"),
    check=_check_qos_disabled,
    tags=("cgroup", "kubelet", "microk8s"),
)
