"""The ``node`` block of the report: who the node is, in a few fields."""

from __future__ import annotations

from typing import Any

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import cgroup_facts
from nodedoctor.facts.kubelet import kubelet_summary
from nodedoctor.facts.runtime import runtime_summary
from nodedoctor.facts.system import hostname, kernel, os_release
from nodedoctor.facts.target import target_facts


def node_summary(facts: Facts) -> dict[str, Any]:
    osr = facts.get(os_release)
    k = facts.get(kernel)
    cg = facts.get(cgroup_facts)
    return {
        "hostname": facts.get(hostname),
        "root": facts.root.label,
        "os": {"id": osr.id, "version_id": osr.version_id, "pretty_name": osr.pretty_name},
        "kernel": k.release.value if k.release else None,
        "arch": k.arch,
        "cgroup": {"mode": cg.mode.value if cg.mode else None},
        "kubelet": kubelet_summary(facts),
        "runtime": runtime_summary(facts),
        "target": facts.get(target_facts).to_json(),
    }
