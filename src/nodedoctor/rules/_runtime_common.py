"""What the rules about the container runtime share: the runtime they judge (or the reason
they skip), whether the kubelet takes the runtime's cgroup driver, and the drain advice of a
driver change (research runtimes.md §1-3; kubelet-cgroups.md "KubeletCgroupDriverFromCRI")."""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.containerd import ContainerdFacts, containerd_facts
from nodedoctor.facts.kubelet import KubeletFacts
from nodedoctor.facts.runtime import RuntimeFacts, runtime_facts
from nodedoctor.i18n import N_, _
from nodedoctor.rules.base import SkipRuleError

#: The runtime rules' words for a kubelet with neither flags nor a configuration file.
RUNTIME_NOTHING_FOUND = N_("no kubelet flags or configuration file")

#: The drain advice of a driver change: a fix template's ``{drain}``, filled with ``_(DRAIN)``.
DRAIN = N_(
    "if the node has joined a cluster, drain it first (kubectl drain <node> "
    "--ignore-daemonsets): sandboxes created with the old driver cannot be re-created"
)


def configured_runtime(facts: Facts) -> RuntimeFacts:
    r = facts.get(runtime_facts)
    if r.name is None:
        raise SkipRuleError(r.unknown or _("no container runtime was found"))
    return r


def installed_containerd(facts: Facts) -> ContainerdFacts:
    c = facts.get(containerd_facts)
    if not c.present:
        raise SkipRuleError(_("containerd is not installed"))
    return c


def uses_runtime_driver(k: KubeletFacts, r: RuntimeFacts) -> bool | None:
    """Whether the kubelet takes the runtime's driver via RuntimeConfig (None: unknown)."""
    gate = k.driver_from_cri
    version = k.version.value if k.version else None
    if gate is None:
        if version is not None:  # below 1.28: no such gate
            return False
        return False if r.implements_runtime_config is False else None
    if gate.value is not True:
        return False
    return r.implements_runtime_config
