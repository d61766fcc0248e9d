"""The knowledge base. Rules are registered explicitly, in the order reports show them.

A rule module is imported only when one of its rules is wanted: ``all_rules()`` imports them
all, ``rules_for(names)`` only those that register the named rules and families. An NPD
plugin run checks one family (``check --only FAMILY``); importing every rule module would
import every facts module with it, and that was most of its start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from nodedoctor.rules.base import Rule

#: Every registered rule id (and alias) -> the module that registers it and the rule's
#: family, in registry order. It says which modules a selection needs without importing
#: any; tests/speed/test_rule_index.py holds it to the rules themselves.
RULE_INDEX: dict[str, tuple[str, str]] = {
    "parse-error": ("builtin", "NodedoctorInput"),
    "internal-error": ("builtin", "NodedoctorInput"),
    "cgroup-controller-disabled": ("kernel_boot", "KernelCgroupsMissing"),
    "boot-cmdline-ignored": ("kernel_boot", "KernelCgroupsMissing"),
    "cgroup-controller-not-delegated": ("kubelet_cgroups", "KubeletCgroupsBroken"),
    "kubepods-invalid": ("kubelet_cgroups", "KubeletCgroupsBroken"),
    "qos-cgroups-disabled": ("kubelet_cgroups", "KubeletCgroupsBroken"),
    "cgroup-v1-unsupported": ("kubelet_cgroups", "KernelCgroupsMissing"),
    "swap-enabled": ("kubelet_cgroups", "KubeletCgroupsBroken"),
    "cgroup-driver-mismatch": ("runtimes", "CgroupDriverMismatch"),
    "cgroup-driver-not-systemd": ("runtimes", "CgroupDriverMismatch"),
    "containerd-cri-disabled": ("runtimes", "ContainerRuntimeMisconfigured"),
    "containerd-config-ignored": ("runtimes", "ContainerRuntimeMisconfigured"),
    "runtime-version-unsupported": ("runtimes", "ContainerRuntimeMisconfigured"),
    "crio-conmon-cgroup-invalid": ("runtimes", "ContainerRuntimeMisconfigured"),
    "apparmor-blocks-runc-signal": ("apparmor", "ContainerRuntimeMisconfigured"),
    "cloud-init-missing": ("bootstrap", "BootstrapBroken"),
    "cloud-init-disabled": ("bootstrap", "BootstrapBroken"),
    "foreign-cgroup-mount": ("teardown", "NodeTeardownLeftovers"),
    "kubelet-mounts-left": ("teardown", "NodeTeardownLeftovers"),
    "orphaned-pod-cgroups": ("teardown", "NodeTeardownLeftovers"),
}

#: The rule modules (``nodedoctor.rules.<name>``), in registry order.
RULE_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in RULE_INDEX.values()))


def registered(module: str) -> tuple[Rule, ...]:
    """The rules ``module`` registers (its ``RULES``), in registry order (imports the module)."""
    if module not in RULE_MODULES:
        raise KeyError(module)
    import importlib

    rules: tuple[Rule, ...] = importlib.import_module(f"nodedoctor.rules.{module}").RULES
    return rules


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    return _unique([rule for module in RULE_MODULES for rule in registered(module)])


def rules_for(names: Iterable[str]) -> tuple[Rule, ...]:
    """The rules that a selection by ``names`` (rule ids, aliases, family names, as ``check
    --only`` takes them) chooses from, in registry order: the rules of the modules that
    register them, and the engine's own. Only those modules are imported. No names, or a
    name that is neither in the index nor a family, gives every rule (so that the caller
    reports an unknown name as it always did)."""
    from nodedoctor.rules.families import FAMILIES

    names = list(names)
    if not names:
        return all_rules()
    wanted = {"builtin"}
    for name in names:
        modules = {module for key, (module, family) in RULE_INDEX.items() if name in (key, family)}
        if not modules and name not in FAMILIES:
            return all_rules()
        wanted |= modules
    if wanted.issuperset(RULE_MODULES):
        return all_rules()
    return tuple(rule for module in RULE_MODULES if module in wanted for rule in registered(module))


def _unique(rules: list[Rule]) -> tuple[Rule, ...]:
    seen: dict[str, Rule] = {}
    for rule in rules:
        for name in (rule.id, *rule.aliases):
            if name in seen:
                raise ValueError(f"rule id {name!r} is registered twice")
            seen[name] = rule
    return tuple(rules)


def rule_by_id(rule_id: str) -> Rule | None:
    """The rule named ``rule_id`` (or one of its aliases); imports only its module."""
    entry = RULE_INDEX.get(rule_id)
    for rule in registered(entry[0]) if entry else all_rules():
        if rule.id == rule_id or rule_id in rule.aliases:
            return rule
    return None
