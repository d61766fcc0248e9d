"""kubepods-invalid: what this kubelet version will refuse at start-up in its configuration and
its cgroups (research kubelet-cgroups.md §1.2-1.5, §2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode
from nodedoctor.facts.kubepods import CgroupState, kubelet_error_name, kubepods_facts
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import (
    configured_kubelet,
    cpuset_restored_by_kubelet,
    kubelet_restart,
    version_text,
)
from nodedoctor.rules.base import Rule, SkipRuleError


def _validate_v2(state: CgroupState, required: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """The kubelet's v2 ``Validate`` error for ``state``, and the missing controllers."""
    v2 = state.v2
    if v2 is None:
        return None
    name = kubelet_error_name(state.name)
    if not v2.exists or v2.controllers is None:
        return (
            f"could not read controllers for cgroup {name}: open {v2.path}/cgroup.controllers: "
            "no such file or directory",
            list(required),
        )
    missing = [c for c in required if c not in v2.controllers.value]
    if missing:
        return f"cgroup {name} has some missing controllers: {', '.join(missing)}", missing
    return None


def _validate_v1(state: CgroupState) -> str | None:
    if state.v1 is None or not state.v1.missing:
        return None
    return (
        f"cgroup {kubelet_error_name(state.name)} has some missing paths: "
        f"{', '.join(state.v1.missing)}"
    )


def _qos_message(version: Version | None, validate_error: str) -> str:
    old = "failed to initialize top level QOS containers: root container [kubepods] doesn't exist"
    new = (
        "failed to initialize top level QOS containers: error validating root container "
        f"[kubepods] : {validate_error}"
    )
    if version is None:
        return f'kubelet <= 1.30 prints "{old}"; kubelet >= 1.31 prints "{new}"'
    return old if version < (1, 31) else new


def _check_kubepods_invalid(facts: Facts) -> Iterator[Issue]:
    k = configured_kubelet(facts)
    version = k.version.value if k.version else None
    vtext = version_text(version)
    per_qos = k.setting("cgroupsPerQOS")
    enforce = k.setting("enforceNodeAllocatable")
    restart, commands = kubelet_restart(k)

    # 1. Configuration validation (before any cgroup is looked at).
    if (
        per_qos is not None
        and per_qos.value is False
        and enforce is not None
        and isinstance(enforce.value, list)
        and enforce.value
    ):
        ev = [per_qos.evidence, enforce.evidence]
        yield Issue(
            title="enforceNodeAllocatable is set while cgroupsPerQOS is false",
            message=(
                f'{vtext} refuses this configuration: "invalid configuration: '
                "enforceNodeAllocatable (--enforce-node-allocatable) is not supported unless "
                'cgroupsPerQOS (--cgroups-per-qos) is set to true"'
                + (" (enforceNodeAllocatable defaults to [pods])" if enforce.is_default else "")
            ),
            evidence=tuple(ev),
            fix=FixHint(
                summary=(
                    'set enforceNodeAllocatable to an empty list (--enforce-node-allocatable="") '
                    "or, better, turn cgroupsPerQOS back on"
                ),
                files=tuple(e.source for e in ev if e.source != "default"),
                restart=restart,
                commands=commands,
            ),
            impact="the kubelet exits before it starts any pod",
        )
        return
    enforced = (
        set(enforce.value) if enforce is not None and isinstance(enforce.value, list) else set()
    )
    for key, field, flag in (
        ("system-reserved", "systemReservedCgroup", "--system-reserved-cgroup"),
        ("kube-reserved", "kubeReservedCgroup", "--kube-reserved-cgroup"),
    ):
        value = k.value(field)
        if key in enforced and not value and enforce is not None:
            yield Issue(
                title=f"{key} is enforced without {field}",
                message=(
                    f'{vtext} refuses this configuration: "invalid configuration: {field} '
                    f'({flag}) must be specified when "{key}" contained in enforceNodeAllocatable '
                    '(--enforce-node-allocatable)"'
                ),
                evidence=(enforce.evidence,),
                fix=FixHint(
                    summary=f"set {field} to an existing cgroup, or drop {key} from "
                    "enforceNodeAllocatable",
                    files=tuple(e for e in (enforce.evidence.source,) if e != "default"),
                    restart=restart,
                    commands=commands,
                ),
                impact="the kubelet exits before it starts any pod",
            )

    kp = facts.get(kubepods_facts)
    if not kp.known:
        raise SkipRuleError(kp.unknown_reason or "where kubepods is cannot be told")

    # 2. cgroupRoot must exist with the required controllers (NewContainerManager).
    root = kp.cgroup_root
    if root is not None and root.relative != "/":
        error = _validate_v2(root, kp.required) if kp.mode is CgroupMode.V2 else None
        text = error[0] if error else _validate_v1(root)
        if text:
            if version is not None and version < (1, 24):
                name = kubelet_error_name(root.name)
                shown = f"invalid configuration: cgroup-root {name} doesn't exist"
            else:
                shown = f"invalid configuration: {text}"
            setting = k.setting("cgroupRoot")
            ev = [setting.evidence] if setting else []
            if root.v2 is not None and root.v2.controllers is not None:
                ev.append(root.v2.controllers.evidence)
            else:
                ev.append(Evidence(root.v2.path if root.v2 else root.relative, "directory absent"))
            yield Issue(
                title=f"cgroupRoot {root.relative} is not usable",
                message=f'{vtext} will exit with "failed to run Kubelet: {shown}"',
                evidence=tuple(ev),
                fix=FixHint(
                    summary=(
                        f"create {root.relative} with the controllers the kubelet needs before "
                        "it starts (a systemd slice unit), or remove cgroupRoot"
                    ),
                    files=tuple(e.source for e in ev[:1] if e.source != "default"),
                    restart=restart,
                    commands=commands,
                ),
                impact="the kubelet exits before it starts any pod",
            )
            return

    # 3. kubepods (qosContainerManager.Start validates it after creating it if absent).
    kubepods = kp.kubepods
    if kubepods is not None and kubepods.v2 is not None:
        v2 = kubepods.v2
        missing: list[str] = []
        validate_error: str | None = None
        if v2.exists:
            result = _validate_v2(kubepods, kp.required)
            if result is not None:
                validate_error, missing = result
        elif v2.parent_controllers is not None:
            # Created now: it gets what the parent can give (the parent's controllers).
            missing = [c for c in kp.required if c not in v2.parent_controllers.value]
            if missing:
                validate_error = (
                    f"cgroup {kubelet_error_name(kubepods.name)} has some missing controllers: "
                    f"{', '.join(missing)}"
                )
        if validate_error and not cpuset_restored_by_kubelet(kp, k, missing):
            shown = _qos_message(version, validate_error)
            ev2: list[Evidence] = []
            if v2.controllers is not None:
                ev2.append(v2.controllers.evidence)
            else:
                ev2.append(Evidence(v2.path, "directory absent"))
            if v2.parent_subtree_control is not None:
                ev2.append(v2.parent_subtree_control.evidence)
            if kp.root_controllers is not None:
                ev2.append(kp.root_controllers.evidence)
            if kp.driver is not None:
                ev2.append(kp.driver.evidence)
            if k.version is not None:
                ev2.append(k.version.evidence)
            journal = (
                f'"Failed to start ContainerManager" err="{shown}"'
                if version is not None
                else shown
            )
            yield Issue(
                title=f"{kubepods.relative} lacks {' '.join(missing)}: the kubelet will not start",
                message=(
                    f"{v2.path} {'exists without' if v2.exists else 'would be created without'} "
                    f"{', '.join(missing)} (the kernel has it; the parent's subtree_control does "
                    f"not pass it on). {vtext} logs: {journal}"
                ),
                evidence=tuple(ev2),
                fix=FixHint(
                    summary=(
                        "re-enable the controller for kubepods' parent (see "
                        "cgroup-controller-not-delegated: a Delegate=yes drop-in for the kubelet's "
                        "unit), then restart the kubelet; do not turn QoS cgroups off"
                    ),
                    restart=restart,
                    commands=commands,
                ),
                impact=(
                    "the kubelet exits at start-up and restarts in a loop; the node stays "
                    "NotReady and no pod runs"
                ),
            )

    # 4. Reserved cgroups must already exist: the kubelet never creates them.
    for field, (setting, state) in kp.reserved.items():
        if kp.mode is CgroupMode.V2:
            result = _validate_v2(state, kp.required)
            text = result[0] if result else None
        else:
            text = _validate_v1(state)
        if not text:
            continue
        label = "System" if field == "systemReservedCgroup" else "Kube"
        ev3 = [setting.evidence]
        if state.v2 is not None:
            ev3.append(
                state.v2.controllers.evidence
                if state.v2.controllers is not None
                else Evidence(state.v2.path, "directory absent")
            )
        elif state.v1 is not None:
            ev3.extend(Evidence(p, "directory absent") for p in state.v1.missing)
        yield Issue(
            title=f"{field} {setting.value} does not exist as the kubelet needs it",
            message=(
                f"enforceNodeAllocatable enforces it but the kubelet never creates it: "
                f"{vtext} logs: Failed to enforce {label} Reserved Cgroup Limits on "
                f'"{setting.value}": {text}; then it exits'
            ),
            evidence=tuple(ev3),
            fix=FixHint(
                summary=(
                    f"create {setting.value} before the kubelet starts (for example a systemd "
                    "slice that is always active), or stop enforcing it"
                ),
                files=tuple(e.source for e in ev3[:1] if e.source != "default"),
                restart=restart,
                commands=commands,
            ),
            impact="the kubelet's container manager fails to start and the kubelet exits",
        )


RULE = Rule(
    id="kubepods-invalid",
    severity=Severity.ERROR,
    title="the kubelet will reject its kubepods cgroup hierarchy at start-up",
    check=_check_kubepods_invalid,
    tags=("cgroup", "kubelet", "kubepods"),
    applies_to="every kubelet version (messages differ before and after 1.31)",
)
