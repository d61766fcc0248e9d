"""The rule table (``nodedoctor.rules.families.RULE_FAMILIES``) that lets a check import only
the rule modules it needs, held to the rules themselves: same ids in the same order, each
found in the module its id names; and a selection through it chooses exactly the rules that
the whole registry would, aliases included."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator

import pytest

from nodedoctor import engine
from nodedoctor._record import replace
from nodedoctor.cli import main
from nodedoctor.rules import all_rules, load, module_name, rule_by_id, rules_for
from nodedoctor.rules.base import Rule
from nodedoctor.rules.families import (
    ENGINE_RULES,
    FAMILIES,
    RULE_FAMILIES,
    expand_families,
    family_of,
    family_of_id,
)
from tests.helpers import ROOTS


def test_the_table_lists_every_rule_in_registry_order() -> None:
    assert [r.id for r in all_rules()] == list(RULE_FAMILIES)
    for rule in all_rules():
        module = importlib.import_module(module_name(rule.id))
        assert module.RULE is rule, f"{rule.id} is not the RULE of {module.__name__}"
        assert family_of(rule) in FAMILIES, rule.id
    assert set(RULE_FAMILIES) >= ENGINE_RULES


def test_a_module_whose_rule_has_another_id_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(module_name("swap-enabled"))
    monkeypatch.setattr(module, "RULE", replace(module.RULE, id="swap-on"))
    with pytest.raises(ValueError, match="defines 'swap-on', not 'swap-enabled'"):
        load("swap-enabled")


def _selection(names: list[str], skip: list[str], rules: tuple[Rule, ...]) -> list[str]:
    """What ``check --only NAMES --skip SKIP`` runs (cli/check.py)."""
    only = expand_families(names, rules) or sorted(ENGINE_RULES)  # a family with no rules yet
    return [r.id for r in engine.select_rules(rules, only, expand_families(skip, rules))]


@pytest.mark.parametrize(
    "names",
    [[family] for family in FAMILIES]
    + [[rule_id] for rule_id in RULE_FAMILIES]
    + [["KernelCgroupsMissing", "cgroup-driver-mismatch"], ["BootstrapBroken", "swap-enabled"]],
)
def test_a_selection_through_the_table_chooses_what_the_registry_would(names: list[str]) -> None:
    subset = rules_for(names)
    assert _selection(names, [], subset) == _selection(names, [], all_rules())
    assert _selection(names, ["kubepods-invalid"], subset) == _selection(
        names, ["kubepods-invalid"], all_rules()
    )
    order = [r.id for r in all_rules()]
    assert [r.id for r in subset] == [i for i in order if i in {r.id for r in subset}]
    if len(subset) < len(all_rules()):  # it did leave rules out: only what names need
        needed = ENGINE_RULES | {k for k, f in RULE_FAMILIES.items() if {k, f} & set(names)}
        assert {r.id for r in subset} == needed


def test_no_names_or_an_unknown_name_gives_every_rule() -> None:
    assert rules_for([]) == all_rules()
    assert rules_for(["no-such-rule"]) == all_rules()
    assert rules_for(["KernelCgroupsMissing", "NoSuchFamily"]) == all_rules()


def test_rule_by_id_finds_every_rule_and_no_other() -> None:
    for rule in all_rules():
        assert rule_by_id(rule.id) is rule
    assert rule_by_id("no-such-rule") is None


@pytest.fixture
def swap_on_alias(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rule]:
    """swap-enabled as if it had been renamed from ``swap-on`` (an alias lives in the rule)."""
    module = importlib.import_module(module_name("swap-enabled"))
    aliased = replace(module.RULE, aliases=("swap-on",))
    monkeypatch.setattr(module, "RULE", aliased)
    all_rules.cache_clear()
    yield aliased
    monkeypatch.undo()
    all_rules.cache_clear()


def test_an_alias_selects_skips_and_explains_its_rule(
    swap_on_alias: Rule, capsys: pytest.CaptureFixture[str]
) -> None:
    subset = rules_for(["swap-on"])
    assert swap_on_alias in subset
    assert _selection(["swap-on"], [], subset) == ["parse-error", "internal-error", "swap-enabled"]
    assert "swap-enabled" not in _selection([], ["swap-on"], all_rules())
    assert rule_by_id("swap-on") is swap_on_alias
    assert family_of_id("swap-on", all_rules()) == "KubeletCgroupsBroken"
    assert main(["explain", "swap-on"]) == 0
    assert "swap-enabled" in capsys.readouterr().out


def test_check_only_an_alias_runs_its_rule(
    swap_on_alias: Rule, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ROOTS / "kubeadm-healthy-v2" / "root"
    main(["check", "--root", str(root), "--only", "swap-on", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    ran = [*report["passed"], *(s["rule"] for s in report["skipped"])]
    ran += [f["rule"] for f in report["findings"]]
    assert set(ran) - ENGINE_RULES == {"swap-enabled"}
