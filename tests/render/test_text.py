"""The text report's finding heads: the severity, then the rule id, then the title, in columns
that stay apart for every severity (WARNING is as long as the old column was wide)."""

from __future__ import annotations

import re

import pytest

from nodedoctor.model import Finding, Report, Severity
from nodedoctor.render.text import render_text


@pytest.mark.parametrize("severity", list(Severity))
def test_the_severity_and_the_rule_id_never_run_together(severity: Severity) -> None:
    report = Report(
        tool_version="0",
        node={},
        findings=(Finding(rule="some-rule", severity=severity, title="a title", message="m"),),
        skipped=(),
        passed=(),
        duration_seconds=0.0,
        timestamp=0.0,
        rules_checked=("some-rule",),
    )
    text = render_text(report, color=False)
    head = next(line for line in text.splitlines() if "some-rule" in line)
    assert re.match(rf"^{severity.value.upper()} {{2,}}some-rule {{2,}}a title$", head), head
    col = head.index("some-rule")
    assert col == len("WARNING") + 2
