"""A crash inside a check is a finding, never a traceback: a rule that raises gives
``internal-error`` (its verdict unknown), and so does the node summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.facts import summary as summary_mod
from nodedoctor.model import Issue, Severity
from nodedoctor.rules.base import Rule
from nodedoctor.sources.root import directory_root


def _broken(_facts: Facts) -> list[Issue]:
    raise ZeroDivisionError("a bug")


BROKEN = Rule(
    id="broken-rule",
    severity=Severity.ERROR,
    title="a rule with a bug",
    check=_broken,
    tags=("test",),
)


def test_a_crashing_rule_is_an_internal_error_finding(tmp_path: Path) -> None:
    report = engine.run(Facts(directory_root(str(tmp_path))), [BROKEN], summary=False)
    (finding,) = report.findings
    assert finding.rule == "internal-error"
    assert "broken-rule" in finding.title
    assert "ZeroDivisionError: a bug" in finding.evidence[0].text
    assert "broken-rule" not in report.passed


def test_a_crashing_node_summary_is_an_internal_error_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_facts: Facts) -> dict[str, object]:
        raise RuntimeError("summary bug")

    monkeypatch.setattr(summary_mod, "node_summary", boom)
    report = engine.run(Facts(directory_root(str(tmp_path))), [])
    assert report.node == {}
    (finding,) = report.findings
    assert finding.rule == "internal-error"
    assert finding.title == "the node summary crashed: RuntimeError"
