"""Incident scenario roots (tests/roots/<scenario>/): each names what it must report.

``expect.yaml``:

    profile: microk8s
    findings:                       # rule id -> severity; these must be raised
      cgroup-controller-disabled: error
    absent: [cgroup-driver-mismatch] # must not be raised at any severity
    quiet: true                     # nothing else at warning or above (default true)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.model import Severity
from tests.helpers import ROOTS, check_root, load_expect

SCENARIOS = sorted(p for p in ROOTS.iterdir() if (p / "expect.yaml").exists())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario(scenario: Path) -> None:
    expect = load_expect(scenario / "expect.yaml")
    profile = expect.get("profile")
    report = check_root(scenario / "root", profile=str(profile) if profile else None)
    got: dict[str, set[str]] = {}
    for f in report.findings:
        got.setdefault(f.rule, set()).add(f.severity.value)
    wanted: dict[str, str] = dict(expect.get("findings") or {})  # type: ignore[call-overload]
    for rule_id, severity in wanted.items():
        assert rule_id in got, f"{rule_id} not raised; got {got}"
        assert severity in got[rule_id], f"{rule_id}: wanted {severity}, got {got[rule_id]}"
        for f in report.findings:
            if f.rule == rule_id:
                assert f.evidence, f"{rule_id}: a finding needs evidence"
    for rule_id in expect.get("absent") or []:  # type: ignore[attr-defined]
        assert rule_id not in got, f"{rule_id} raised but must not be: {got}"
    if expect.get("quiet", True):
        extra = [
            f.to_json()
            for f in report.findings
            if f.rule not in wanted and f.severity.at_least(Severity.WARNING)
        ]
        assert not extra, extra
