"""The knowledge base: one module per rule, ``rules/<id with underscores>.py``, whose ``RULE``
is that rule. Which rules exist, in which order and family, is the table in
:mod:`nodedoctor.rules.families`; the registry finds a rule's module from its id.

A rule module is imported only when its rule is wanted: ``all_rules()`` imports them all,
``rules_for(names)`` only those of the named rules and families. An NPD plugin run checks one
family (``check --only FAMILY``); importing every rule module would import every facts module
with it, and that was most of its start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from nodedoctor.rules.base import Rule
from nodedoctor.rules.families import ENGINE_RULES, FAMILIES, RULE_FAMILIES, rule_ids_in


def module_name(rule_id: str) -> str:
    """The module that defines the rule ``rule_id``.

    >>> module_name("cgroup-driver-mismatch")
    'nodedoctor.rules.cgroup_driver_mismatch'
    """
    return "nodedoctor.rules." + rule_id.replace("-", "_")


def load(rule_id: str) -> Rule:
    """The rule ``rule_id`` of the table (imports its module only)."""
    if rule_id not in RULE_FAMILIES:
        raise KeyError(rule_id)
    import importlib

    rule: Rule = importlib.import_module(module_name(rule_id)).RULE
    if rule.id != rule_id:
        raise ValueError(f"{module_name(rule_id)} defines {rule.id!r}, not {rule_id!r}")
    return rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    return _unique([load(rule_id) for rule_id in RULE_FAMILIES])


def rules_for(names: Iterable[str]) -> tuple[Rule, ...]:
    """The rules that a selection by ``names`` (rule ids, aliases, family names, as ``check
    --only`` takes them) chooses from, in registry order: the named rules, the rules of the
    named families, and the engine's own. Only their modules are imported. No names, or a
    name that is neither a rule id nor a family (an alias, or unknown), gives every rule (so
    that an alias finds its rule and the caller reports an unknown name as it always did)."""
    names = list(names)
    if not names:
        return all_rules()
    wanted = set(ENGINE_RULES)
    for name in names:
        if name in RULE_FAMILIES:
            wanted.add(name)
        elif name in FAMILIES:
            wanted.update(rule_ids_in(name))
        else:
            return all_rules()
    if wanted.issuperset(RULE_FAMILIES):
        return all_rules()
    return tuple(load(rule_id) for rule_id in RULE_FAMILIES if rule_id in wanted)


def _unique(rules: list[Rule]) -> tuple[Rule, ...]:
    seen: dict[str, Rule] = {}
    for rule in rules:
        for name in (rule.id, *rule.aliases):
            if name in seen:
                raise ValueError(f"rule id {name!r} is registered twice")
            seen[name] = rule
    return tuple(rules)


def rule_by_id(rule_id: str) -> Rule | None:
    """The rule named ``rule_id`` (or one of its aliases); a rule id imports only its
    module, an alias every rule module (aliases live in the rules that carry them)."""
    if rule_id in RULE_FAMILIES:
        return load(rule_id)
    for rule in all_rules():
        if rule_id in rule.aliases:
            return rule
    return None
