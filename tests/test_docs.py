"""Every rule documents itself fully and has bad and good example roots."""

from __future__ import annotations

import pytest

from nodedoctor.cli import main
from nodedoctor.rules import all_rules
from nodedoctor.rules.base import DOC_SECTIONS
from nodedoctor.rules.builtin import ENGINE_RULES
from tests.helpers import case_dirs

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_every_doc_section(rule: object) -> None:
    doc = rule.doc  # type: ignore[attr-defined]
    assert doc.summary, f"{doc.rule_id}: the doc needs a one-paragraph summary"
    for section in DOC_SECTIONS:
        assert doc.section(section), f"{doc.rule_id}: missing section {section}"


@pytest.mark.parametrize("rule", [r for r in RULES if r.id not in ENGINE_RULES], ids=lambda r: r.id)
def test_rule_has_bad_and_good_cases(rule: object) -> None:
    rule_id = rule.id  # type: ignore[attr-defined]
    names = [p.name for p in case_dirs() if p.parent.name == rule_id]
    assert any(n.startswith("bad") for n in names), f"{rule_id}: no bad example root"
    assert any(n.startswith("good") for n in names), f"{rule_id}: no good example root"


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_explain_prints_every_section(rule: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", rule.id]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    for section in DOC_SECTIONS:
        assert section.upper() in out
