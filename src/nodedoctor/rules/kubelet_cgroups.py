"""Rules about the kubelet's own cgroup configuration: kubepods, delegation, QoS cgroups,
cgroup v1 support and swap. Each predicts what this kubelet version will do at start-up
(research kubelet-cgroups.md §1.2-1.5, §2) before it does it."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import KubeletFacts, kubelet_facts
from nodedoctor.facts.kubepods import (
    CgroupState,
    KubepodsFacts,
    kubelet_error_name,
    kubepods_facts,
)
from nodedoctor.facts.swap import swap_facts
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

MICROK8S_UNIT = "snap.microk8s.daemon-kubelite.service"


def _kubelet(facts: Facts) -> KubeletFacts:
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError("no kubelet is installed on this node")
    if not k.configured:
        why = "; ".join((*k.problems, *k.pending)) or (
            "no kubelet flags or configuration file were found"
        )
        raise SkipRuleError(f"the kubelet's configuration cannot be read: {why}")
    return k


def _kubepods(facts: Facts) -> KubepodsFacts:
    _kubelet(facts)
    kp = facts.get(kubepods_facts)
    if not kp.known:
        raise SkipRuleError(kp.unknown_reason or "where kubepods is cannot be told")
    return kp


def _version_text(version: Version | None) -> str:
    return f"kubelet {version.release[0]}.{version.release[1]}" if version else "the kubelet"


def _restart(k: KubeletFacts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(services to restart, commands) for the kubelet's unit."""
    unit = k.unit or "kubelet.service"
    if unit == MICROK8S_UNIT:
        return (unit.removesuffix(".service"),), ("snap restart microk8s",)
    return (unit.removesuffix(".service"),), (f"systemctl restart {unit}",)


def _cpuset_restored_by_kubelet(kp: KubepodsFacts, k: KubeletFacts, missing: list[str]) -> bool:
    """kubelet >= 1.32 with the systemd driver re-delegates cpuset itself (k/k#125923)."""
    driver = kp.driver.value if kp.driver else None
    version = k.version.value if k.version else None
    return (
        missing == ["cpuset"]
        and driver == "systemd"
        and kp.driver_note is None
        and version is not None
        and version >= (1, 32)
    )


# --------------------------------------------------------------------------------------
# cgroup-controller-not-delegated


def _check_not_delegated(facts: Facts) -> Iterator[Issue]:
    cg = facts.get(cgroup_facts)
    if cg.mode is not None and cg.mode is not CgroupMode.V2:
        raise SkipRuleError(
            f"the host is on cgroup {cg.mode.value}: controllers are not delegated through "
            "cgroup.subtree_control"
        )
    kp = _kubepods(facts)
    k = facts.get(kubelet_facts)
    kubepods = kp.kubepods
    if kubepods is None:
        raise SkipRuleError(
            "cgroupsPerQOS is false: the kubelet makes no kubepods cgroup "
            "(see qos-cgroups-disabled)"
        )
    v2 = kubepods.v2
    if v2 is None or not v2.exists:
        # The kubelet creates it and enables what the parent has (no delegation lost yet).
        return
    if v2.parent_subtree_control is None:
        raise SkipRuleError(f"{v2.parent_path}/cgroup.subtree_control is not in this root")
    missing = [c for c in kp.required if c not in v2.parent_subtree_control.value]
    if not missing or _cpuset_restored_by_kubelet(kp, k, missing):
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
    restart, commands = _restart(k)
    if delegated and k.delegate is not None:
        evidence.append(k.delegate.evidence)
        fix = FixHint(
            summary=(
                f"{unit} already has Delegate=yes and systemd still dropped {names}: systemd "
                "older than 244 cannot delegate cpuset; upgrade systemd, and until then run "
                f"`echo +{missing[0]} > {v2.parent_path}/cgroup.subtree_control` before the "
                "kubelet starts"
            ),
            restart=restart,
            commands=tuple(f"echo +{c} > {v2.parent_path}/cgroup.subtree_control" for c in missing),
        )
    else:
        fix = FixHint(
            summary=(
                f"give {unit} a drop-in {dropin} with [Service] Delegate=yes, so systemd keeps "
                f"{names} enabled for it, then daemon-reload and restart"
            ),
            files=(dropin,),
            restart=restart,
            commands=("systemctl daemon-reload", *commands),
        )
    yield Issue(
        title=f"{names} not delegated to {kubepods.relative}",
        message=(
            f"the kernel has {names} (/sys/fs/cgroup/cgroup.controllers) but "
            f"{v2.parent_path}/cgroup.subtree_control does not enable it, so "
            f"{v2.path} has no {names}; the kubelet refuses a kubepods cgroup without it. "
            "systemd rewrites the root subtree_control to the controllers its own units need "
            "and drops the others (MicroK8s#4361)"
        ),
        evidence=tuple(evidence),
        fix=fix,
        impact=(
            'the kubelet exits at start-up with "failed to initialize top level QOS containers" '
            "and restarts in a loop; no pod starts"
        ),
    )


CGROUP_CONTROLLER_NOT_DELEGATED = Rule(
    id="cgroup-controller-not-delegated",
    severity=Severity.ERROR,
    title="a cgroup controller the kubelet needs is not delegated to kubepods",
    check=_check_not_delegated,
    tags=("cgroup", "cgroup-v2", "kubelet", "systemd"),
    applies_to="cgroup v2 hosts, every kubelet version",
)


# --------------------------------------------------------------------------------------
# kubepods-invalid


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
    k = _kubelet(facts)
    version = k.version.value if k.version else None
    vtext = _version_text(version)
    per_qos = k.setting("cgroupsPerQOS")
    enforce = k.setting("enforceNodeAllocatable")
    restart, commands = _restart(k)

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
        if validate_error and not _cpuset_restored_by_kubelet(kp, k, missing):
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


KUBEPODS_INVALID = Rule(
    id="kubepods-invalid",
    severity=Severity.ERROR,
    title="the kubelet will reject its kubepods cgroup hierarchy at start-up",
    check=_check_kubepods_invalid,
    tags=("cgroup", "kubelet", "kubepods"),
    applies_to="every kubelet version (messages differ before and after 1.31)",
)


# --------------------------------------------------------------------------------------
# qos-cgroups-disabled


def _check_qos_disabled(facts: Facts) -> Iterator[Issue]:
    k = _kubelet(facts)
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
    restart, commands = _restart(k)
    what = []
    if off:
        what.append(
            "no QoS cgroups: Burstable and BestEffort pods are not separated from Guaranteed "
            "ones, so a BestEffort pod under memory pressure competes with Guaranteed pods"
        )
    if empty_enforce:
        what.append(
            "node allocatable is not enforced: pods together may use the memory and CPU reserved "
            "for the system and the kubelet"
        )
    cause = ""
    cg = facts.get(cgroup_facts)
    if cg.mode is CgroupMode.V2 and cg.v2_root_controllers and cg.v2_root_subtree_control:
        lost = [
            c
            for c in ("cpu", "cpuset", "memory", "hugetlb", "pids")
            if c in cg.v2_root_controllers.value and c not in cg.v2_root_subtree_control.value
        ]
        if lost:
            cause = (
                f" The cause this works around is still present: /sys/fs/cgroup/"
                f"cgroup.subtree_control lacks {' '.join(lost)} (see "
                "cgroup-controller-not-delegated); fix that first."
            )
        else:
            cause = " The root subtree_control now delegates every controller the kubelet needs."
    texts = ", ".join(s.flag_text or s.evidence.text for s in settings)
    yield Issue(
        title="QoS cgroups or node allocatable enforcement are turned off",
        message=(
            f"the kubelet runs with {texts}, the workaround for the MicroK8s "
            f'"root container [kubepods] doesn\'t exist" crash loop (MicroK8s#4378). Cost: '
            + "; ".join(what)
            + "."
            + cause
        ),
        evidence=tuple(s.evidence for s in settings),
        fix=FixHint(
            summary=(
                "remove "
                + " and ".join(s.flag_text or s.name for s in settings)
                + " once the cause is fixed, then restart the kubelet"
            ),
            files=tuple(dict.fromkeys(s.evidence.source for s in settings)),
            restart=restart,
            commands=commands,
        ),
        impact="pods lose QoS isolation; Guaranteed pods are not protected",
    )


QOS_CGROUPS_DISABLED = Rule(
    id="qos-cgroups-disabled",
    severity=Severity.WARNING,
    title="the kubelet runs without QoS cgroups or node allocatable enforcement",
    check=_check_qos_disabled,
    tags=("cgroup", "kubelet", "microk8s"),
)


# --------------------------------------------------------------------------------------
# cgroup-v1-unsupported


def _check_v1_unsupported(facts: Facts) -> Iterator[Issue]:
    cg = facts.get(cgroup_facts)
    if cg.mode is None:
        raise SkipRuleError("the cgroup mode of this root is unknown (no mount table)")
    if cg.mode is CgroupMode.V2:
        return
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError(
            "no kubelet is installed; note that kubelet 1.35+ refuses cgroup v1 by default"
        )
    fail = k.setting("failCgroupV1")
    explicit = fail is not None and not fail.is_default
    if not k.readable and not explicit:
        raise SkipRuleError(f"the kubelet's configuration cannot be read: {'; '.join(k.problems)}")
    version = k.version.value if k.version else None
    if version is None and not explicit:
        raise SkipRuleError(
            "the kubelet's version is unknown (failCgroupV1 defaults to true from 1.35)"
        )
    evidence = [cg.mode_evidence] if cg.mode_evidence else []
    if k.version is not None:
        evidence.append(k.version.evidence)
    if fail is not None:
        evidence.append(fail.evidence)
    vtext = _version_text(version)
    mode = (
        "hybrid (v1 controllers with a v2 tree beside them)"
        if cg.mode is CgroupMode.HYBRID
        else "v1"
    )
    refuses = fail is not None and fail.value is True and (version is None or version >= (1, 31))
    files = (k.config_path.value,) if k.config_path else ()
    restart, _ = _restart(k)
    migrate = (
        "move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command "
        "line, or an OS release that boots v2), then reboot"
    )
    if refuses:
        tail = (
            "unsupported and will be removed in a future release"
            if version is None or version >= (1, 35)
            else "in maintenance mode"
        )
        yield Issue(
            title=f"{vtext} refuses to run on cgroup {cg.mode.value}",
            message=(
                f"the host is on cgroup {mode}, which the kubelet counts as v1, and failCgroupV1 "
                f'is true: the kubelet exits with "kubelet is configured to not run on a host '
                f'using cgroup v1. cgroup v1 support is {tail}"'
            ),
            evidence=tuple(evidence),
            severity=Severity.ERROR,
            fix=FixHint(
                summary=f"{migrate}; or, as a stopgap, set failCgroupV1: false in the kubelet "
                "configuration (kubeadm also needs its SystemVerification check skipped)",
                files=files,
                reboot=True,
                restart=restart,
            ),
            impact="the kubelet does not start; the node stays NotReady",
        )
        return
    if version is not None and version < (1, 31):
        yield Issue(
            title=f"cgroup {cg.mode.value}: fine for {vtext}, refused from kubelet 1.35",
            message=(
                f"the host is on cgroup {mode}. {vtext} runs on it, but cgroup v1 is in "
                "maintenance mode from 1.31 and kubelet 1.35+ refuses it unless failCgroupV1: "
                "false; plan the move to cgroup v2 before upgrading"
            ),
            evidence=tuple(evidence),
            severity=Severity.INFO,
            fix=FixHint(summary=migrate, reboot=True),
        )
        return
    yield Issue(
        title=f"cgroup {cg.mode.value} is deprecated for {vtext}",
        message=(
            f"the host is on cgroup {mode}. {vtext} still runs"
            + (" because failCgroupV1 is false" if explicit else "")
            + ", but cgroup v1 support is in maintenance mode (1.31-1.34) and unsupported from "
            "1.35 (KEP-5573); the kubelet reports a CgroupV1 warning event and new features "
            "need v2"
        ),
        evidence=tuple(evidence),
        severity=Severity.WARNING,
        fix=FixHint(summary=migrate, reboot=True),
        impact="the next kubelet upgrade may refuse to start; v2-only features are unavailable",
    )


CGROUP_V1_UNSUPPORTED = Rule(
    id="cgroup-v1-unsupported",
    severity=Severity.ERROR,
    title="the host runs cgroup v1 (or hybrid), which the kubelet deprecates and then refuses",
    check=_check_v1_unsupported,
    tags=("cgroup", "cgroup-v1", "kubelet"),
    applies_to="error from kubelet 1.35 (unless failCgroupV1: false), warning 1.31-1.34, "
    "info before",
)


# --------------------------------------------------------------------------------------
# swap-enabled


def _check_swap(facts: Facts) -> Iterator[Issue]:
    swap = facts.get(swap_facts)
    if swap.active is None:
        raise SkipRuleError("/proc/swaps is not in this root")
    if not swap.active:
        return
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError("no kubelet is installed on this node")
    if not k.readable:
        raise SkipRuleError(f"the kubelet's configuration cannot be read: {'; '.join(k.problems)}")
    fail = k.setting("failSwapOn")
    if fail is None or fail.value is None:
        raise SkipRuleError("failSwapOn has a value the kubelet refuses")
    cg = facts.get(cgroup_facts)
    restart, commands = _restart(k)
    evidence = (*swap.evidence, fail.evidence)
    if fail.value is True:
        yield Issue(
            title="swap is on and the kubelet refuses to run with it",
            message=(
                ("the kubelet is not configured yet; with the default " if k.pending else "")
                + "failSwapOn is true and /proc/swaps lists active swap: the kubelet exits with "
                '"running with swap on is not supported, please disable swap or set '
                '--fail-swap-on flag to false"'
            ),
            evidence=evidence,
            severity=Severity.ERROR,
            fix=FixHint(
                summary=(
                    "turn swap off (swapoff -a) and remove it from /etc/fstab (or mask the "
                    "swap unit); or, on cgroup v2 only, set failSwapOn: false with "
                    "memorySwap.swapBehavior"
                ),
                files=("/etc/fstab",),
                restart=restart,
                commands=("swapoff -a", *commands),
            ),
            impact="the kubelet does not start; the node stays NotReady",
        )
        return
    if cg.mode is not None and cg.mode is not CgroupMode.V2:
        yield Issue(
            title="swap is on with the kubelet on cgroup v1, where it cannot control swap",
            message=(
                "failSwapOn is false so the kubelet starts, but swap is supported for cgroup v2 "
                "only: on this cgroup "
                f"{cg.mode.value} host the kubelet cannot limit pods' swap use"
            ),
            evidence=(*evidence, *((cg.mode_evidence,) if cg.mode_evidence else ())),
            severity=Severity.WARNING,
            fix=FixHint(
                summary="turn swap off (swapoff -a and /etc/fstab), or move the host to cgroup v2",
                files=("/etc/fstab",),
                commands=("swapoff -a",),
            ),
            impact="pods may swap without limits; memory accounting and eviction are distorted",
        )


SWAP_ENABLED = Rule(
    id="swap-enabled",
    severity=Severity.ERROR,
    title="swap is active while the kubelet would refuse it or cannot control it",
    check=_check_swap,
    tags=("swap", "kubelet"),
)

RULES = (
    CGROUP_CONTROLLER_NOT_DELEGATED,
    KUBEPODS_INVALID,
    QOS_CGROUPS_DISABLED,
    CGROUP_V1_UNSUPPORTED,
    SWAP_ENABLED,
)
