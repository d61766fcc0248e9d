"""``check --format html`` of one node: a page of that node's findings (not a one-row
matrix), with the verdict, every finding in full, the skipped rules with why, no script, and
a rule's Markdown inline code shown as code rather than raw backquotes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nodedoctor.model import Finding, Report, Severity
from nodedoctor.render.html import render_html
from tests.helpers import ROOTS, check_root
from tests.html.test_fleet_report import browser  # noqa: F401 - the module's fixture
from tests.render import samples


def test_one_node_is_a_page_of_its_findings() -> None:
    report = check_root(ROOTS / "kubekey-teardown-calico" / "root")
    page = render_html(report)
    assert 'id="matrix"' not in page
    assert "<dialog" not in page
    assert "<script" not in page
    assert "script-src 'none'" in page
    verdict = re.search(r'<p id="verdict">([^<]*)</p>', page)
    assert verdict is not None
    assert verdict.group(1).startswith(
        f"0 errors · {report.count(Severity.WARNING)} warnings · 0 info"
    )
    for finding in report.findings:
        assert f'<h3 id="{finding.rule}">{finding.rule}</h3>' in page
        for ev in finding.evidence:
            assert ev.source in page
    for skipped in report.skipped:
        assert f"<code>{skipped.rule}</code>" in page
    # The fix the report suggests carries the root, as in the text report.
    assert "nodedoctor clean --root" in page


def test_inline_code_is_code_and_markup_stays_text() -> None:
    finding = Finding(
        "foreign-cgroup-mount",
        Severity.WARNING,
        "left by `kk delete cluster`",
        "run `umount /run/calico/cgroup` <b>first</b>",
        (),
        impact="`rm -rf` fails",
    )
    report = Report("0", {"hostname": "n1"}, (finding,), (), (), 0.0, 0.0, (finding.rule,))
    page = render_html(report)
    assert "left by <code>kk delete cluster</code>" in page
    assert "run <code>umount /run/calico/cgroup</code> &lt;b&gt;first&lt;/b&gt;" in page
    assert "<code>rm -rf</code> fails" in page
    assert "`" not in page.split("<main>", 1)[1]


def test_hostile_report_stays_text() -> None:
    page = render_html(samples.hostile())
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


@pytest.mark.slow
def test_single_page_in_headless_chromium(browser: object, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    out = tmp_path / "node.html"
    report = check_root(ROOTS / "kubekey-teardown-calico" / "root")
    shown = [f for f in report.findings if f.severity.value in ("error", "warning", "info")]
    warnings = sum(1 for f in shown if f.severity.value == "warning")
    assert shown
    assert warnings == len(shown), "the teardown root gives warnings only"
    out.write_text(render_html(report))
    page = browser.new_page(viewport={"width": 900, "height": 700})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(out.as_uri())
    assert page.locator("#findings h3").count() == len(shown)
    assert page.locator("#verdict").inner_text().startswith(f"0 errors · {warnings} warnings")
    # The stylesheet applied (the CSP allows it by hash): badges are coloured.
    color = page.locator(".badge").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color not in ("", "rgba(0, 0, 0, 0)")
    assert problems == []
    page.close()
