"""What the kubelet will do at start-up with this node's cgroups, its version and its
settings: the failures it meets, in the order it meets them, and what it logs for each
(research kubelet-cgroups.md §1.2-1.5, §2).

The order is the kubelet's. Configuration validation comes first (k/k
pkg/kubelet/apis/config/validation): enforceNodeAllocatable without cgroupsPerQOS ends the
start-up there. ``NewContainerManager`` then validates ``cgroupRoot``; an unusable one ends it
too. ``qosContainerManager.Start`` validates kubepods, after creating it if it is absent (it
then gets what its parent's ``cgroup.subtree_control`` passes on). Last, the reserved cgroups
that enforceNodeAllocatable enforces must exist: the kubelet never creates them.
"""

from __future__ import annotations

from typing import Union

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode
from nodedoctor.facts.kubelet import KubeletFacts, Setting, kubelet_facts
from nodedoctor.facts.kubepods import (
    CgroupState,
    KubepodsFacts,
    V2Cgroup,
    kubelet_error_name,
    kubepods_facts,
)
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _

#: An enforceNodeAllocatable key that needs its cgroup named: (key, setting, flag).
RESERVED_CGROUP_SETTINGS = (
    ("system-reserved", "systemReservedCgroup", "--system-reserved-cgroup"),
    ("kube-reserved", "kubeReservedCgroup", "--kube-reserved-cgroup"),
)


@record
class KubeletMessage:
    """A line the kubelet logs, and the kubelet versions that log it ("": this kubelet)."""

    text: str
    versions: str = ""


@record
class EnforceWithoutQos:
    """Configuration validation refuses enforceNodeAllocatable while cgroupsPerQOS is false."""

    cgroups_per_qos: Setting
    enforce_node_allocatable: Setting
    error: str


@record
class ReservedCgroupUnset:
    """Configuration validation refuses an enforced reservation whose cgroup is not named."""

    #: The enforceNodeAllocatable key (``system-reserved``) and the setting it needs.
    key: str
    setting_name: str
    enforce_node_allocatable: Setting
    error: str


@record
class CgroupRootUnusable:
    """``NewContainerManager`` refuses a cgroupRoot that does not validate."""

    cgroup_root: CgroupState
    setting: Setting | None
    log: str


@record
class KubepodsRejected:
    """``qosContainerManager.Start`` refuses kubepods without a controller it requires."""

    #: kubepods' cgroupfs-form path (``/kubepods.slice``) and its state on cgroup v2.
    relative: str
    kubepods: V2Cgroup
    missing: tuple[str, ...]
    #: One line for a kubelet of known version; the wording of each range when unknown.
    logs: tuple[KubeletMessage, ...]


@record
class ReservedCgroupUnusable:
    """Enforcing a reserved cgroup that does not exist as the kubelet needs it fails."""

    setting_name: str
    setting: Setting
    state: CgroupState
    log: str


StartupFailure = Union[
    EnforceWithoutQos,
    ReservedCgroupUnset,
    CgroupRootUnusable,
    KubepodsRejected,
    ReservedCgroupUnusable,
]


@record
class KubepodsStartup:
    """The kubelet's start-up on this node, as far as it can be told."""

    failures: tuple[StartupFailure, ...]
    #: Why the cgroup checks cannot be told (where kubepods is is unknown); ``failures``
    #: then holds only what configuration validation refuses.
    unknown_reason: str | None = None


def kubelet_restores_cpuset(kp: KubepodsFacts, kubelet: KubeletFacts, missing: list[str]) -> bool:
    """kubelet >= 1.32 with the systemd driver re-delegates cpuset itself (k/k#125923)."""
    driver = kp.driver.value if kp.driver else None
    version = kubelet.version.value if kubelet.version else None
    return (
        missing == ["cpuset"]
        and driver == "systemd"
        and kp.driver_note is None
        and version is not None
        and version >= (1, 32)
    )


def validate_v2(state: CgroupState, required: tuple[str, ...]) -> tuple[str, list[str]] | None:
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


def validate_v1(state: CgroupState) -> str | None:
    """The kubelet's v1 ``Validate`` error for ``state``."""
    if state.v1 is None or not state.v1.missing:
        return None
    return (
        f"cgroup {kubelet_error_name(state.name)} has some missing paths: "
        f"{', '.join(state.v1.missing)}"
    )


def _qos_logs(version: Version | None, validate_error: str) -> tuple[KubeletMessage, ...]:
    """What the kubelet logs when kubepods does not validate (k/k#125449 in 1.31)."""
    old = "failed to initialize top level QOS containers: root container [kubepods] doesn't exist"
    new = (
        "failed to initialize top level QOS containers: error validating root container "
        f"[kubepods] : {validate_error}"
    )
    if version is None:
        return (
            KubeletMessage(text=old, versions="kubelet <= 1.30"),
            KubeletMessage(text=new, versions="kubelet >= 1.31"),
        )
    shown = old if version < (1, 31) else new
    return (KubeletMessage(text=f'"Failed to start ContainerManager" err="{shown}"'),)


def _configuration_failures(kubelet: KubeletFacts) -> list[StartupFailure]:
    per_qos = kubelet.setting("cgroupsPerQOS")
    enforce = kubelet.setting("enforceNodeAllocatable")
    if enforce is None or not isinstance(enforce.value, list):
        return []
    if per_qos is not None and per_qos.value is False and enforce.value:
        error = (
            "invalid configuration: enforceNodeAllocatable (--enforce-node-allocatable) is not "
            "supported unless cgroupsPerQOS (--cgroups-per-qos) is set to true"
        )
        return [
            EnforceWithoutQos(
                cgroups_per_qos=per_qos, enforce_node_allocatable=enforce, error=error
            )
        ]
    failures: list[StartupFailure] = []
    for key, setting_name, flag in RESERVED_CGROUP_SETTINGS:
        if key in enforce.value and not kubelet.value(setting_name):
            error = (
                f"invalid configuration: {setting_name} ({flag}) must be specified when "
                f'"{key}" contained in enforceNodeAllocatable (--enforce-node-allocatable)'
            )
            failures.append(
                ReservedCgroupUnset(
                    key=key,
                    setting_name=setting_name,
                    enforce_node_allocatable=enforce,
                    error=error,
                )
            )
    return failures


def _cgroup_root_failure(
    kp: KubepodsFacts, kubelet: KubeletFacts, version: Version | None
) -> CgroupRootUnusable | None:
    root = kp.cgroup_root
    if root is None or root.relative == "/":
        return None
    error = validate_v2(root, kp.required) if kp.mode is CgroupMode.V2 else None
    text = error[0] if error else validate_v1(root)
    if not text:
        return None
    if version is not None and version < (1, 24):  # before Validate's errors were surfaced
        shown = f"invalid configuration: cgroup-root {kubelet_error_name(root.name)} doesn't exist"
    else:
        shown = f"invalid configuration: {text}"
    return CgroupRootUnusable(
        cgroup_root=root,
        setting=kubelet.setting("cgroupRoot"),
        log=f"failed to run Kubelet: {shown}",
    )


def _kubepods_failure(
    kp: KubepodsFacts, kubelet: KubeletFacts, version: Version | None
) -> KubepodsRejected | None:
    kubepods = kp.kubepods
    if kubepods is None or kubepods.v2 is None:
        return None
    v2 = kubepods.v2
    missing: list[str] = []
    validate_error: str | None = None
    if v2.exists:
        result = validate_v2(kubepods, kp.required)
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
    if not validate_error or kubelet_restores_cpuset(kp, kubelet, missing):
        return None
    return KubepodsRejected(
        relative=kubepods.relative,
        kubepods=v2,
        missing=tuple(missing),
        logs=_qos_logs(version, validate_error),
    )


def _reserved_failures(kp: KubepodsFacts) -> list[StartupFailure]:
    failures: list[StartupFailure] = []
    for setting_name, (setting, state) in kp.reserved.items():
        if kp.mode is CgroupMode.V2:
            result = validate_v2(state, kp.required)
            text = result[0] if result else None
        else:
            text = validate_v1(state)
        if not text:
            continue
        label = "System" if setting_name == "systemReservedCgroup" else "Kube"
        log = f'Failed to enforce {label} Reserved Cgroup Limits on "{setting.value}": {text}'
        failures.append(
            ReservedCgroupUnusable(setting_name=setting_name, setting=setting, state=state, log=log)
        )
    return failures


def kubepods_startup(facts: Facts) -> KubepodsStartup:
    kubelet = facts.get(kubelet_facts)
    version = kubelet.version.value if kubelet.version else None
    failures = _configuration_failures(kubelet)
    if any(isinstance(f, EnforceWithoutQos) for f in failures):
        return KubepodsStartup(failures=tuple(failures))  # no cgroup is looked at
    kp = facts.get(kubepods_facts)
    if not kp.known:
        reason = kp.unknown_reason or _("where kubepods is cannot be told")
        return KubepodsStartup(failures=tuple(failures), unknown_reason=reason)
    root = _cgroup_root_failure(kp, kubelet, version)
    if root is not None:
        return KubepodsStartup(failures=(*failures, root))
    kubepods = _kubepods_failure(kp, kubelet, version)
    if kubepods is not None:
        failures.append(kubepods)
    failures += _reserved_failures(kp)
    return KubepodsStartup(failures=tuple(failures))
