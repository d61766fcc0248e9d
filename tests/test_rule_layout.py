"""A rule is found from its id in one hop, and added in three files (README, "A new rule"):
its module ``rules/<id with underscores>.py`` whose ``RULE`` is the rule, its runbook
``rules/docs/<id>.md``, and its cases, at least one ``bad*`` and one ``good*`` directory under
``tests/cases/<id>/``; plus its line in the table ``rules/families.py``. Nothing else in
``rules/`` defines a rule, and no module there grows past 500 lines."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import nodedoctor.rules
from nodedoctor.rules import module_name
from nodedoctor.rules.base import Rule
from nodedoctor.rules.families import ENGINE_RULES, FAMILIES, RULE_FAMILIES
from tests.helpers import CASES

RULES_DIR = Path(nodedoctor.rules.__file__).parent
DOCS = RULES_DIR / "docs"
#: Modules of the rules package that are not rules: what a rule is, the table, the symptom
#: index of ``why``; helpers that several rules share are named ``_<concern>_common``.
NOT_RULES = frozenset({"base", "families", "symptoms"})
#: The engine's own rules have no case: parse-error's findings come from files the parsers
#: refuse (tests/parsers, tests/test_runtime_facts.py), internal-error's from a rule that
#: crashes (tests/test_engine_crashes.py), which no node root makes.
WITHOUT_CASES = ENGINE_RULES
#: No source file over 500 lines (issue 10): a file that grows past it is split by concern.
SIZE_CHECKED = (RULES_DIR.parent,)
MAX_LINES = 500


def _rules_defined(module_path: str) -> dict[str, Rule]:
    module = importlib.import_module(module_path)
    return {name: value for name, value in vars(module).items() if isinstance(value, Rule)}


@pytest.mark.parametrize("rule_id", list(RULE_FAMILIES))
def test_a_rule_is_its_module_its_runbook_and_its_cases(rule_id: str) -> None:
    assert RULE_FAMILIES[rule_id] in FAMILIES, f"{rule_id}: unknown family"
    module = module_name(rule_id)
    assert (RULES_DIR / f"{module.rsplit('.', 1)[1]}.py").is_file(), f"{rule_id}: no {module}"
    defined = _rules_defined(module)
    assert list(defined) == ["RULE"], f"{module} must define exactly one rule, RULE"
    assert defined["RULE"].id == rule_id
    assert (DOCS / f"{rule_id}.md").is_file(), f"{rule_id}: no runbook rules/docs/{rule_id}.md"
    if rule_id in WITHOUT_CASES:
        return
    cases = [p.name for p in (CASES / rule_id).glob("*") if _is_case(p)]
    assert any(n.startswith("bad") for n in cases), f"{rule_id}: no bad* case in tests/cases"
    assert any(n.startswith("good") for n in cases), f"{rule_id}: no good* case in tests/cases"


def _is_case(path: Path) -> bool:
    """A case directory: a whole root, or an overlay described by its expect.yaml."""
    return path.is_dir() and ((path / "root").is_dir() or (path / "expect.yaml").is_file())


def test_no_module_of_the_rules_package_defines_a_rule_outside_the_table() -> None:
    modules = {module_name(rule_id): rule_id for rule_id in RULE_FAMILIES}
    for info in pkgutil.iter_modules(nodedoctor.rules.__path__):
        path = f"nodedoctor.rules.{info.name}"
        defined = _rules_defined(path)
        if path in modules:
            continue  # held by the test above
        assert info.name in NOT_RULES or info.name.startswith("_"), (
            f"{path} is neither a rule in rules/families.py nor a known helper module"
        )
        assert not defined, f"{path} defines {sorted(r.id for r in defined.values())}"


def test_no_runbook_or_case_directory_without_its_rule() -> None:
    docs = {p.stem for p in DOCS.glob("*.md")}
    assert docs <= set(RULE_FAMILIES), f"runbooks of no rule: {sorted(docs - set(RULE_FAMILIES))}"
    # Names that start with "_" hold what cases share (the overlays' base roots).
    cases = {p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert cases <= set(RULE_FAMILIES), f"cases of no rule: {sorted(cases - set(RULE_FAMILIES))}"


@pytest.mark.parametrize("directory", SIZE_CHECKED, ids=lambda p: p.name)
def test_no_source_file_is_over_500_lines(directory: Path) -> None:
    long = {
        str(p.relative_to(directory)): n
        for p in sorted(directory.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"
