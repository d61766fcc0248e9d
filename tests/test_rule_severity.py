"""A rule's documented highest severity is the highest it reports (issue 15).

Every rule declares ``highest``; no finding on any test root or case exceeds it; README's
rules table, ``nodedoctor rules`` and ``nodedoctor explain`` show the declared one."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from nodedoctor.cli import main
from nodedoctor.rules import all_rules
from tests.helpers import check_root
from tests.render.roots import every_root

REPO = Path(__file__).resolve().parent.parent
RULES = all_rules()


def test_every_rule_declares_its_highest_severity() -> None:
    undeclared = [r.id for r in RULES if r.highest is None]
    assert not undeclared, (
        f"{undeclared}: declare highest=Severity.<level> in the rule's RULE = Rule(...): the "
        "most severe level its findings take (README and 'nodedoctor rules' show it)"
    )
    below = [
        (r.id, r.severity.value, r.most_severe.value)
        for r in RULES
        if r.highest and r.severity.rank > r.highest.rank
    ]
    assert not below, f"a rule's default severity above its declared highest: {below}"


def test_no_finding_exceeds_its_rules_declared_highest(tmp_path: Path) -> None:
    declared = {r.id: r.most_severe for r in RULES}
    over: list[str] = []
    for name, root, profile in every_root(tmp_path):
        for f in check_root(root, profile=profile).findings:
            if f.severity.rank > declared[f.rule].rank:
                over.append(
                    f"{name}: {f.rule} reports {f.severity.value}, declares "
                    f"{declared[f.rule].value}: {f.title}"
                )
    assert not over, "\n".join(over)


def _readme_table() -> dict[str, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([a-z0-9-]+)` \| (error|warning|info) \|", text, re.M))


def test_readme_shows_the_declared_highest() -> None:
    table = _readme_table()
    assert {r.id: r.most_severe.value for r in RULES} == table


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


def test_rules_command_shows_the_declared_highest() -> None:
    listed = {
        line.split()[0]: line.split()[1] for line in _cli("rules").splitlines() if line.strip()
    }
    assert listed == {r.id: r.most_severe.value for r in RULES}


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_explain_shows_the_declared_highest(rule: object) -> None:
    from nodedoctor.rules.base import Rule

    assert isinstance(rule, Rule)
    head = _cli("explain", rule.id).splitlines()[0]
    assert head.startswith(f"{rule.id} ({rule.most_severe.value}"), head
