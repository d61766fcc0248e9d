"""cgroup-controller-not-delegated: a controller the kernel has but systemd does not pass on to
kubepods' parent (research kubelet-cgroups.md §1.2, §1.4)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.kubepods import KubepodsFacts, kubepods_facts
from nodedoctor.facts.kubepods.startup import kubelet_restores_cpuset
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import configured_kubelet, kubelet_restart
from nodedoctor.rules.base import Rule, SkipRuleError


def _kubepods(facts: Facts) -> KubepodsFacts:
    configured_kubelet(facts)
    kp = facts.get(kubepods_facts)
    if not kp.known:
        raise SkipRuleError(kp.unknown_reason or _("where kubepods is cannot be told"))
    return kp


def _check_not_delegated(facts: Facts) -> Iterator[Issue]:
    cg = facts.get(cgroup_facts)
    if cg.mode is not None and cg.mode is not CgroupMode.V2:
        raise SkipRuleError(
            _(
                "the host is on cgroup {mode}: controllers are not delegated through "
                "cgroup.subtree_control"
            ).format(mode=cg.mode.value)
        )
    kp = _kubepods(facts)
    k = facts.get(kubelet_facts)
    kubepods = kp.kubepods
    if kubepods is None:
        raise SkipRuleError(
            _(
                "cgroupsPerQOS is false: the kubelet makes no kubepods cgroup "
                "(see qos-cgroups-disabled)"
            )
        )
    v2 = kubepods.v2
    if v2 is None or not v2.exists:
        # The kubelet creates it and enables what the parent has (no delegation lost yet).
        return
    if v2.parent_subtree_control is None:
        raise SkipRuleError(
            _("{path}/cgroup.subtree_control is not in this root").format(path=v2.parent_path)
        )
    missing = [c for c in kp.required if c not in v2.parent_subtree_control.value]
    if not missing or kubelet_restores_cpuset(kp, k, missing):
        return
    names = " ".join(missing)
    evidence: list[Evidence] = []
    if kp.root_controllers is not None:
        evidence.append(kp.root_controllers.evidence)
    evidence.append(v2.parent_subtree_control.evidence)
    if v2.controllers is not None:
        evidence.append(v2.controllers.evidence)
    if kp.driver is not None:
        evidence.append(kp.driver.evidence)
    unit = k.unit or "kubelet.service"
    dropin = f"/etc/systemd/system/{unit}.d/delegate.conf"
    delegated = k.delegate is not None and k.delegate.value.strip().lower() in (
        "yes",
        "true",
        "on",
        "1",
    )
    restart, commands = kubelet_restart(k)
    if delegated and k.delegate is not None:
        evidence.append(k.delegate.evidence)
        fix = FixHint(
            summary=_(
                "{unit} already has Delegate=yes and systemd still dropped {controllers}: "
                "systemd older than 244 cannot delegate cpuset; upgrade systemd, and until then "
                "run `{command}` before the kubelet starts"
            ).format(
                unit=unit,
                controllers=names,
                command=f"echo +{missing[0]} > {v2.parent_path}/cgroup.subtree_control",
            ),
            restart=restart,
            commands=tuple(f"echo +{c} > {v2.parent_path}/cgroup.subtree_control" for c in missing),
        )
    else:
        fix = FixHint(
            summary=_(
                "give {unit} a drop-in {dropin} with [Service] Delegate=yes, so systemd keeps "
                "{controllers} enabled for it, then daemon-reload and restart"
            ).format(unit=unit, dropin=dropin, controllers=names),
            files=(dropin,),
            restart=restart,
            commands=("systemctl daemon-reload", *commands),
        )
    from nodedoctor.remedies.kubelet import delegation_remedy  # only for a finding

    yield Issue(
        title=_("{controllers} not delegated to {path}").format(
            controllers=names, path=kubepods.relative
        ),
        message=_(
            "the kernel has {controllers} (/sys/fs/cgroup/cgroup.controllers) but "
            "{parent}/cgroup.subtree_control does not enable it, so "
            "{path} has no {controllers}; the kubelet refuses a kubepods cgroup without it. "
            "systemd rewrites the root subtree_control to the controllers its own units need "
            "and drops the others (MicroK8s#4361)"
        ).format(controllers=names, parent=v2.parent_path, path=v2.path),
        evidence=tuple(evidence),
        fix=fix,
        remedy=delegation_remedy(facts),
        impact=_(
            'the kubelet exits at start-up with "failed to initialize top level QOS containers" '
            "and restarts in a loop; no pod starts"
        ),
    )


RULE = Rule(
    id="cgroup-controller-not-delegated",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("a cgroup controller the kubelet needs is not delegated to kubepods"),
    check=_check_not_delegated,
    tags=("cgroup", "cgroup-v2", "kubelet", "systemd"),
    applies_to=N_("cgroup v2 hosts, every kubelet version"),
)
