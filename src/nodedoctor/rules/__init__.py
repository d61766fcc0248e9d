"""The knowledge base. Rules are registered explicitly, in the order reports show them."""

from __future__ import annotations

from functools import lru_cache

from nodedoctor.rules.base import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    from nodedoctor.rules import (
        apparmor,
        bootstrap,
        builtin,
        kernel_boot,
        kubelet_cgroups,
        runtimes,
        teardown,
    )

    rules: list[Rule] = [
        builtin.PARSE_ERROR,
        builtin.INTERNAL_ERROR,
        *kernel_boot.RULES,
        *kubelet_cgroups.RULES,
        *runtimes.RULES,
        apparmor.APPARMOR_BLOCKS_RUNC_SIGNAL,
        bootstrap.CLOUD_INIT_MISSING,
        bootstrap.CLOUD_INIT_DISABLED,
        teardown.FOREIGN_CGROUP_MOUNT,
        teardown.KUBELET_MOUNTS_LEFT,
        teardown.ORPHANED_POD_CGROUPS,
    ]
    return _unique(rules)


def _unique(rules: list[Rule]) -> tuple[Rule, ...]:
    seen: dict[str, Rule] = {}
    for rule in rules:
        for name in (rule.id, *rule.aliases):
            if name in seen:
                raise ValueError(f"rule id {name!r} is registered twice")
            seen[name] = rule
    return tuple(rules)


def rule_by_id(rule_id: str) -> Rule | None:
    for rule in all_rules():
        if rule.id == rule_id or rule_id in rule.aliases:
            return rule
    return None
