"""Every rule documents itself fully (its cases: tests/test_rule_layout.py)."""

from __future__ import annotations

import pytest

from nodedoctor.cli import main
from nodedoctor.rules import all_rules
from nodedoctor.rules.base import DOC_SECTIONS

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_every_doc_section(rule: object) -> None:
    doc = rule.doc  # type: ignore[attr-defined]
    assert doc.summary, f"{doc.rule_id}: the doc needs a one-paragraph summary"
    for section in DOC_SECTIONS:
        assert doc.section(section), f"{doc.rule_id}: missing section {section}"


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_explain_prints_every_section(rule: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", rule.id]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    for section in DOC_SECTIONS:
        assert section.upper() in out
