"""kubepods-invalid: what this kubelet version will refuse at start-up in its configuration and
its cgroups, worded from the prediction in :mod:`nodedoctor.facts.kubepods.startup` (research
kubelet-cgroups.md §1.2-1.5, §2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor._record import replace
from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import KubeletFacts
from nodedoctor.facts.kubepods import kubepods_facts
from nodedoctor.facts.kubepods.startup import (
    CgroupRootUnusable,
    EnforceWithoutQos,
    KubepodsRejected,
    ReservedCgroupUnset,
    ReservedCgroupUnusable,
    kubepods_startup,
)
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import configured_kubelet, kubelet_restart, version_text
from nodedoctor.rules.base import Rule, SkipRuleError

_EXITS = N_("the kubelet exits before it starts any pod")


def _restart_hint(k: KubeletFacts, summary: str, files: tuple[str, ...] = ()) -> FixHint:
    restart, commands = kubelet_restart(k)
    return FixHint(summary=summary, files=files, restart=restart, commands=commands)


def _enforce_without_qos(failure: EnforceWithoutQos, k: KubeletFacts, vtext: str) -> Issue:
    enforce = failure.enforce_node_allocatable
    ev = (failure.cgroups_per_qos.evidence, enforce.evidence)
    return Issue(
        title=_("enforceNodeAllocatable is set while cgroupsPerQOS is false"),
        message=(
            _(
                '{kubelet} refuses this configuration: "{error}" (enforceNodeAllocatable defaults '
                "to [pods])"
            )
            if enforce.is_default
            else _('{kubelet} refuses this configuration: "{error}"')
        ).format(kubelet=vtext, error=failure.error),
        evidence=ev,
        fix=_restart_hint(
            k,
            _(
                'set enforceNodeAllocatable to an empty list (--enforce-node-allocatable="") '
                "or, better, turn cgroupsPerQOS back on"
            ),
            tuple(e.source for e in ev if e.source != "default"),
        ),
        impact=_(_EXITS),
    )


def _reserved_unset(failure: ReservedCgroupUnset, k: KubeletFacts, vtext: str) -> Issue:
    evidence = failure.enforce_node_allocatable.evidence
    return Issue(
        title=_("{key} is enforced without {setting}").format(
            key=failure.key, setting=failure.setting_name
        ),
        message=_('{kubelet} refuses this configuration: "{error}"').format(
            kubelet=vtext, error=failure.error
        ),
        evidence=(evidence,),
        fix=_restart_hint(
            k,
            _(
                "set {setting} to an existing cgroup, or drop {key} from enforceNodeAllocatable"
            ).format(setting=failure.setting_name, key=failure.key),
            (evidence.source,) if evidence.source != "default" else (),
        ),
        impact=_(_EXITS),
    )


def _cgroup_root_unusable(failure: CgroupRootUnusable, k: KubeletFacts, vtext: str) -> Issue:
    root = failure.cgroup_root
    ev = [failure.setting.evidence] if failure.setting else []
    if root.v2 is not None and root.v2.controllers is not None:
        ev.append(root.v2.controllers.evidence)
    else:
        ev.append(Evidence(root.v2.path if root.v2 else root.relative, "directory absent"))
    return Issue(
        title=_("cgroupRoot {path} is not usable").format(path=root.relative),
        message=_('{kubelet} will exit with "{log}"').format(kubelet=vtext, log=failure.log),
        evidence=tuple(ev),
        fix=_restart_hint(
            k,
            _(
                "create {path} with the controllers the kubelet needs before it starts "
                "(a systemd slice unit), or remove cgroupRoot"
            ).format(path=root.relative),
            tuple(e.source for e in ev[:1] if e.source != "default"),
        ),
        impact=_(_EXITS),
    )


def _kubepods_rejected(
    failure: KubepodsRejected, k: KubeletFacts, vtext: str, facts: Facts
) -> Issue:
    v2 = failure.kubepods
    kp = facts.get(kubepods_facts)
    ev: list[Evidence] = [
        v2.controllers.evidence
        if v2.controllers is not None
        else Evidence(v2.path, "directory absent")
    ]
    if v2.parent_subtree_control is not None:
        ev.append(v2.parent_subtree_control.evidence)
    if kp.root_controllers is not None:
        ev.append(kp.root_controllers.evidence)
    if kp.driver is not None:
        ev.append(kp.driver.evidence)
    if k.version is not None:
        ev.append(k.version.evidence)
    if len(failure.logs) == 1 and not failure.logs[0].versions:
        journal = failure.logs[0].text
    else:
        said = [
            _('{versions} prints "{log}"').format(versions=m.versions, log=m.text)
            for m in failure.logs
        ]
        journal = said[0]
        for more in said[1:]:
            journal = _("{said}; {more}").format(said=journal, more=more)
    missing = failure.missing
    return Issue(
        title=_("{path} lacks {controllers}: the kubelet will not start").format(
            path=failure.relative, controllers=" ".join(missing)
        ),
        message=(
            _(
                "{path} exists without {controllers} (the kernel has it; the parent's "
                "subtree_control does not pass it on). {kubelet} logs: {journal}"
            )
            if v2.exists
            else _(
                "{path} would be created without {controllers} (the kernel has it; the "
                "parent's subtree_control does not pass it on). {kubelet} logs: {journal}"
            )
        ).format(path=v2.path, controllers=", ".join(missing), kubelet=vtext, journal=journal),
        evidence=tuple(ev),
        fix=_restart_hint(
            k,
            _(
                "re-enable the controller for kubepods' parent (see "
                "cgroup-controller-not-delegated: a Delegate=yes drop-in for the kubelet's "
                "unit), then restart the kubelet; do not turn QoS cgroups off"
            ),
        ),
        impact=_(
            "the kubelet exits at start-up and restarts in a loop; the node stays "
            "NotReady and no pod runs"
        ),
    )


def _reserved_unusable(failure: ReservedCgroupUnusable, k: KubeletFacts, vtext: str) -> Issue:
    setting, state = failure.setting, failure.state
    ev = [setting.evidence]
    if state.v2 is not None:
        ev.append(
            state.v2.controllers.evidence
            if state.v2.controllers is not None
            else Evidence(state.v2.path, "directory absent")
        )
    elif state.v1 is not None:
        ev.extend(Evidence(p, "directory absent") for p in state.v1.missing)
    return Issue(
        title=_("{setting} {path} does not exist as the kubelet needs it").format(
            setting=failure.setting_name, path=setting.value
        ),
        message=_(
            "enforceNodeAllocatable enforces it but the kubelet never creates it: "
            "{kubelet} logs: {log}; then it exits"
        ).format(kubelet=vtext, log=failure.log),
        evidence=tuple(ev),
        fix=_restart_hint(
            k,
            _(
                "create {path} before the kubelet starts (for example a systemd slice "
                "that is always active), or stop enforcing it"
            ).format(path=setting.value),
            tuple(e.source for e in ev[:1] if e.source != "default"),
        ),
        impact=_("the kubelet's container manager fails to start and the kubelet exits"),
    )


def _check_kubepods_invalid(facts: Facts) -> Iterator[Issue]:
    k = configured_kubelet(facts)
    startup = facts.get(kubepods_startup)
    if startup.unknown_reason is not None:
        raise SkipRuleError(startup.unknown_reason)
    vtext = version_text(k.version.value if k.version else None)
    for failure in startup.failures:
        if isinstance(failure, EnforceWithoutQos):
            yield _enforce_without_qos(failure, k, vtext)
        elif isinstance(failure, ReservedCgroupUnset):
            yield _reserved_unset(failure, k, vtext)
        elif isinstance(failure, CgroupRootUnusable):
            yield _cgroup_root_unusable(failure, k, vtext)
        elif isinstance(failure, KubepodsRejected):
            yield _kubepods_rejected(failure, k, vtext, facts)
        else:
            yield _reserved_unusable(failure, k, vtext)


def _check(facts: Facts) -> Iterator[Issue]:
    for issue in _check_kubepods_invalid(facts):
        from nodedoctor.remedies.kubelet import KUBEPODS_REMEDY  # only for a finding

        yield replace(issue, remedy=KUBEPODS_REMEDY)


RULE = Rule(
    id="kubepods-invalid",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("the kubelet will reject its kubepods cgroup hierarchy at start-up"),
    check=_check,
    tags=("cgroup", "kubelet", "kubepods"),
    applies_to=N_("every kubelet version (messages differ before and after 1.31)"),
)
