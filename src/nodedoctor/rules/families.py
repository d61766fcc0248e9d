"""Every rule id and its problem family, declared once: the order reports show rules in, the
node conditions that node-problem-detector sets and the fleet report groups by, and which
rule modules a run needs (``check --only FAMILY`` imports that family's modules only).

A rule lives in ``rules/<id with underscores>.py`` (its ``RULE``), documented in
``rules/docs/<id>.md``; adding one adds its line to :data:`RULE_FAMILIES`.
A family name is CamelCase (a Kubernetes condition type); rule ids are kebab-case, so
``check --only CgroupDriverMismatch`` can name a whole family without ambiguity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nodedoctor.rules.base import Rule

#: The family of a rule that no line below names (a rule made outside the registry).
DEFAULT_FAMILY = "NodeMisconfigured"

#: Every family, with the one-line meaning shown as the NPD condition's healthy message.
FAMILIES: dict[str, str] = {
    "KernelCgroupsMissing": "the kernel gives the cgroup controllers the kubelet needs",
    "KubeletCgroupsBroken": "the kubelet can create and validate its cgroups",
    "CgroupDriverMismatch": "the kubelet and the runtime agree on the cgroup driver",
    "ContainerRuntimeMisconfigured": "the container runtime is configured for the kubelet",
    "BootstrapBroken": "the node's bootstrap (cloud-init, user-data) can run",
    "NodeTeardownLeftovers": "no mounts or cgroups are left from a torn-down cluster",
    "NodeNetworkUnprepared": "the kernel forwards pod traffic as Kubernetes needs",
    DEFAULT_FAMILY: "no other node misconfiguration found",
    "NodedoctorInput": "nodedoctor could read and evaluate the node's files",
}

#: Every rule id, in the order reports show them, and its family.
RULE_FAMILIES: dict[str, str] = {
    "parse-error": "NodedoctorInput",
    "internal-error": "NodedoctorInput",
    "cgroup-controller-disabled": "KernelCgroupsMissing",
    "boot-cmdline-ignored": "KernelCgroupsMissing",
    "cgroup-controller-not-delegated": "KubeletCgroupsBroken",
    "kubepods-invalid": "KubeletCgroupsBroken",
    "qos-cgroups-disabled": "KubeletCgroupsBroken",
    "cgroup-v1-unsupported": "KernelCgroupsMissing",
    "swap-enabled": "KubeletCgroupsBroken",
    "ip-forwarding-disabled": "NodeNetworkUnprepared",
    "bridge-netfilter": "NodeNetworkUnprepared",
    "cgroup-driver-mismatch": "CgroupDriverMismatch",
    "cgroup-driver-not-systemd": "CgroupDriverMismatch",
    "containerd-cri-disabled": "ContainerRuntimeMisconfigured",
    "containerd-config-ignored": "ContainerRuntimeMisconfigured",
    "runtime-version-unsupported": "ContainerRuntimeMisconfigured",
    "crio-conmon-cgroup-invalid": "ContainerRuntimeMisconfigured",
    "apparmor-blocks-runc-signal": "ContainerRuntimeMisconfigured",
    "cloud-init-missing": "BootstrapBroken",
    "cloud-init-disabled": "BootstrapBroken",
    "foreign-cgroup-mount": "NodeTeardownLeftovers",
    "kubelet-mounts-left": "NodeTeardownLeftovers",
    "orphaned-pod-cgroups": "NodeTeardownLeftovers",
    "orphaned-pod-dirs": "NodeTeardownLeftovers",
    "cni-config-left": "NodeTeardownLeftovers",
    "cni-network-left": "NodeTeardownLeftovers",
    "netfilter-rules-left": "NodeTeardownLeftovers",
    "kubeadm-init-blocked": "NodeTeardownLeftovers",
    "resources-below-minimum": "NodeMisconfigured",
    "node-name-invalid": "NodeMisconfigured",
    "kernel-config-missing": "NodeMisconfigured",
    "kernel-version-unsupported": "NodeMisconfigured",
    "kubernetes-port-in-use": "NodeMisconfigured",
    "required-command-missing": "NodeMisconfigured",
    "cri-socket-not-answering": "ContainerRuntimeMisconfigured",
}

#: Rules the engine evaluates itself: parse-error after all others, internal-error never
#: directly (it reports a rule that crashed). Every run has them, whatever it selects.
ENGINE_RULES = frozenset({"parse-error", "internal-error"})

_FAMILY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def is_family_name(name: str) -> bool:
    """A CamelCase family name, never a rule id.

    >>> is_family_name("CgroupDriverMismatch"), is_family_name("cgroup-driver-mismatch")
    (True, False)
    """
    return bool(_FAMILY_NAME.match(name))


def rule_ids_in(family: str) -> list[str]:
    """The ids of ``family``'s rules, in registry order.

    >>> rule_ids_in("BootstrapBroken")
    ['cloud-init-missing', 'cloud-init-disabled']
    """
    return [rule_id for rule_id, f in RULE_FAMILIES.items() if f == family]


def family_of(rule: Rule) -> str:
    return RULE_FAMILIES.get(rule.id, DEFAULT_FAMILY)


def family_of_id(rule_id: str, rules: Sequence[Rule]) -> str:
    """The family of the rule named ``rule_id``, which may be one of its aliases."""
    if rule_id in RULE_FAMILIES:
        return RULE_FAMILIES[rule_id]
    for rule in rules:
        if rule_id in rule.aliases:
            return family_of(rule)
    return DEFAULT_FAMILY


def rules_in(family: str, rules: Sequence[Rule]) -> list[Rule]:
    return [r for r in rules if family_of(r) == family]


def expand_families(names: Iterable[str], rules: Sequence[Rule]) -> list[str]:
    """Rule ids for ``names``: a family name stands for its rules, a rule id for itself.

    Raises ``KeyError`` for a CamelCase name that is not a family.
    """
    out: list[str] = []
    for name in names:
        if is_family_name(name):
            if name not in FAMILIES:
                raise KeyError(name)
            out += [r.id for r in rules_in(name, rules)]
        else:
            out.append(name)
    return out
