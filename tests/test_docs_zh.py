"""Every runbook has its zh_CN twin (issue 16): the same six sections under Chinese headings,
every upstream message of the English Symptoms quoted verbatim, and the Chinese phrasings
``why`` indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.cli import main
from nodedoctor.i18n import set_language
from nodedoctor.rules import all_rules
from nodedoctor.rules.base import DOC_SECTIONS, DOC_SECTIONS_ZH_CN, Rule, load_doc

RULES = all_rules()
DOCS = Path(__file__).resolve().parent.parent / "src/nodedoctor/rules/docs"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_runbook_has_a_zh_cn_twin(rule: Rule) -> None:
    path = DOCS / "zh_CN" / f"{rule.id}.md"
    assert path.is_file(), f"{path}: missing"
    text = path.read_text(encoding="utf-8")
    headings = [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]
    assert headings == [DOC_SECTIONS_ZH_CN[s] for s in DOC_SECTIONS], f"{path}: {headings}"
    assert text.startswith(f"# {rule.id}\n"), f"{path}: the title is the rule id"
    zh, en = load_doc(rule.id, "zh_CN"), load_doc(rule.id)
    assert zh.summary, f"{path}: the one-paragraph summary"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.summary), f"{path}: not Chinese"
    for section in DOC_SECTIONS:
        assert zh.section(section), f"{path}: {DOC_SECTIONS_ZH_CN[section]} is empty"
    missing = [s for s in en.symptoms if s not in zh.symptoms]
    assert not missing, f"{path}: the English Symptoms quote these, the twin does not: {missing}"
    assert len(zh.phrasings) >= 2, f"{path}: list how users describe it (常见描述：)"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_explain_in_chinese_prints_the_twin(rule: Rule, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        assert main(["--lang", "zh_CN", "explain", rule.id]) == 0
    finally:
        set_language(None)
    out = capsys.readouterr().out
    for section in DOC_SECTIONS:
        assert f"{DOC_SECTIONS_ZH_CN[section]} ({section.upper()})" in out
    assert load_doc(rule.id, "zh_CN").summary in out
