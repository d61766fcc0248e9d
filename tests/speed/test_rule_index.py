"""The static rule index (``nodedoctor.rules.RULE_INDEX``) that lets a check import only the
rule modules it needs, held to the rules themselves: same ids in the same order, the module
that registers each rule, its family; and a selection through it chooses exactly the rules
that the whole registry would."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import nodedoctor.rules
from nodedoctor import engine
from nodedoctor.rules import (
    RULE_INDEX,
    RULE_MODULES,
    all_rules,
    registered,
    rule_by_id,
    rules_for,
)
from nodedoctor.rules.base import Rule
from nodedoctor.rules.builtin import ENGINE_RULES
from nodedoctor.rules.families import FAMILIES, expand_families, family_of


def test_the_index_lists_every_rule_in_registry_order() -> None:
    aliases = {alias for rule in all_rules() for alias in rule.aliases}
    assert [key for key in RULE_INDEX if key not in aliases] == [r.id for r in all_rules()]
    for rule in all_rules():
        for name in (rule.id, *rule.aliases):
            assert RULE_INDEX[name] == (_module_of(rule), family_of(rule)), name
    assert [m for m in RULE_MODULES for _ in registered(m)] == [_module_of(r) for r in all_rules()]


def _module_of(rule: Rule) -> str:
    """The module whose ``registered`` list holds the rule, checked against where the rule
    object is defined (a module-level name of that module)."""
    (module,) = [m for m in RULE_MODULES if rule in registered(m)]
    defined = vars(importlib.import_module(f"nodedoctor.rules.{module}")).values()
    assert any(value is rule for value in defined), f"{rule.id} is not defined in {module}"
    return module


def test_every_module_that_defines_rules_is_registered() -> None:
    """A new rule module that the index and ``registered`` do not name would never run."""
    for info in pkgutil.iter_modules(nodedoctor.rules.__path__):
        module = importlib.import_module(f"nodedoctor.rules.{info.name}")
        defined = {value.id for value in vars(module).values() if isinstance(value, Rule)}
        for value in vars(module).values():
            if isinstance(value, tuple) and value and all(isinstance(v, Rule) for v in value):
                defined |= {v.id for v in value}
        in_index = {key for key, (m, _) in RULE_INDEX.items() if m == info.name}
        assert defined <= in_index, f"{info.name}: {sorted(defined - in_index)} not in RULE_INDEX"
        if defined:
            assert {r.id for r in registered(info.name)} == defined


def _selection(names: list[str], skip: list[str], rules: tuple[Rule, ...]) -> list[str]:
    """What ``check --only NAMES --skip SKIP`` runs (cli/check.py)."""
    only = expand_families(names, rules) or sorted(ENGINE_RULES)  # a family with no rules yet
    return [r.id for r in engine.select_rules(rules, only, expand_families(skip, rules))]


@pytest.mark.parametrize(
    "names",
    [[family] for family in FAMILIES]
    + [[key] for key in RULE_INDEX]
    + [["KernelCgroupsMissing", "cgroup-driver-mismatch"], ["BootstrapBroken", "swap-enabled"]],
)
def test_a_selection_through_the_index_chooses_what_the_registry_would(names: list[str]) -> None:
    subset = rules_for(names)
    assert _selection(names, [], subset) == _selection(names, [], all_rules())
    assert _selection(names, ["kubepods-invalid"], subset) == _selection(
        names, ["kubepods-invalid"], all_rules()
    )
    order = [r.id for r in all_rules()]
    assert [r.id for r in subset] == [i for i in order if i in {r.id for r in subset}]
    if len(subset) < len(all_rules()):  # it did leave modules out: only what names need
        needed = {"builtin"} | {m for k, (m, f) in RULE_INDEX.items() if {k, f} & set(names)}
        assert {m for m in RULE_MODULES for r in registered(m) if r in subset} == needed


def test_no_names_or_an_unknown_name_gives_every_rule() -> None:
    assert rules_for([]) == all_rules()
    assert rules_for(["no-such-rule"]) == all_rules()
    assert rules_for(["KernelCgroupsMissing", "NoSuchFamily"]) == all_rules()


def test_rule_by_id_finds_every_rule_and_no_other() -> None:
    for rule in all_rules():
        assert rule_by_id(rule.id) is rule
    assert rule_by_id("no-such-rule") is None
