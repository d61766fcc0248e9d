"""One runner for every rule's example roots (tests/cases/<rule-id>/<case>/).

A case is an overlay: its ``expect.yaml`` names a ``base:`` root and its ``root/`` holds only
the files that differ; ``materialize_case`` builds the node's full root. tests/cases/README.md
documents every expect.yaml key. Cases named ``bad*`` must raise that rule (and the ``also:``
rules) and no other; ``good*`` must raise nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import case_dirs, check_root, load_expect, materialize_case

CASE_DIRS = case_dirs()


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


@pytest.mark.parametrize("case", CASE_DIRS, ids=[_id(p) for p in CASE_DIRS])
def test_rule_case(case: Path, tmp_path: Path) -> None:
    rule_id = case.parent.name
    expect = load_expect(case / "expect.yaml")
    profile = expect.get("profile")
    version = expect.get("kubernetes_version")
    root = materialize_case(case, tmp_path)
    report = check_root(
        root,
        profile=str(profile) if profile else None,
        kubernetes_version=str(version) if version else None,
    )
    raised = {f.rule for f in report.findings}
    mine = [f for f in report.findings if f.rule == rule_id]
    if case.name.startswith("bad"):
        also = set(expect.get("also", []) or [])  # type: ignore[call-overload]
        assert raised == {rule_id, *also}, [f.to_json() for f in report.findings]
        if "severity" in expect:
            assert {f.severity.value for f in mine} == {expect["severity"]}
        if "count" in expect:
            assert len(mine) == expect["count"]
        blob_ev = "\n".join(f"{e.source} {e.text}" for f in mine for e in f.evidence)
        for needle in expect.get("evidence", []) or []:  # type: ignore[attr-defined]
            assert needle in blob_ev, (needle, blob_ev)
        blob_msg = "\n".join(f"{f.title} {f.message} {f.impact}" for f in mine)
        for needle in expect.get("message", []) or []:  # type: ignore[attr-defined]
            assert needle in blob_msg, (needle, blob_msg)
        if "fix_files" in expect:
            files = {p for f in mine if f.fix for p in f.fix.files}
            assert set(expect["fix_files"]) <= files, files  # type: ignore[call-overload]
    else:
        assert case.name.startswith("good"), f"{case}: case names start with bad or good"
        assert not report.findings, [f.to_json() for f in report.findings]
