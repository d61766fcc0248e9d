"""The fleet report: ``nodedoctor report`` merges reports into one page, and the page works in
a real headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download):
it loads without console errors or requests, the filters change the visible rows, a cell
opens the evidence and fix, and hostile report text stays text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodedoctor.render.html import render_html_many
from tests.render import samples

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _write_reports(tmp_path: Path) -> list[Path]:
    paths = []
    fleet = [
        samples.driver_mismatch("worker-1"),
        samples.driver_mismatch("worker-7"),
        samples.raspberry_pi(),
        samples.healthy("worker-2"),
        samples.hostile(),
    ]
    for i, report in enumerate(fleet):
        path = tmp_path / f"node{i}.json"
        path.write_text(json.dumps(report.to_json()), encoding="utf-8")
        paths.append(path)
    # The Ansible module's shape: the report under "report".
    wrapped = tmp_path / "ansible.json"
    wrapped.write_text(
        json.dumps({"changed": False, "report": samples.healthy("ansible-host").to_json()}),
        encoding="utf-8",
    )
    paths.append(wrapped)
    return paths


def _report_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodedoctor", "report", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    out = tmp_path / "fleet.html"
    result = _report_cli(*map(str, _write_reports(tmp_path)), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_report_cli_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else"}', encoding="utf-8")
    result = _report_cli(str(bad))
    assert result.returncode == 2
    assert "bad.json.schema" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "nodedoctor/report/v1", "findings": [{"rule": 3}]}')
    result = _report_cli(str(broken))
    assert result.returncode == 2
    assert "findings[0].rule" in result.stderr
    assert _report_cli(str(tmp_path / "missing.json")).returncode == 2
    # The schema alone checked nothing: never a healthy node on the page.
    empty = tmp_path / "empty.json"
    empty.write_text('{"schema": "nodedoctor/report/v1"}', encoding="utf-8")
    result = _report_cli(str(empty))
    assert result.returncode == 2
    assert "empty.json: names no rule passed, skipped or found" in result.stderr


def test_page_is_self_contained_and_escaped(page_file: Path) -> None:
    html = page_file.read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    for external in ("http://", "https://", "src=", "href="):
        assert external not in html, external
    assert "Content-Security-Policy" in html


def test_junit_for_the_fleet(tmp_path: Path) -> None:
    result = _report_cli(*map(str, _write_reports(tmp_path)), "--format", "junit")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("<testsuite ") == 6


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/install-system-deps)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.mark.slow
def test_page_in_headless_chromium(browser: object, page_file: Path, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Request

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    def on_page_error(error: Error) -> None:
        problems.append(str(error))

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(request: Request) -> None:
        if not request.url.startswith("file://"):
            requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("dialog", on_dialog)
    page.on("request", on_request)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")

    rows = page.locator("#matrix tbody tr.node")
    visible = page.locator("#matrix tbody tr.node:not(.hidden)")
    assert rows.count() == 6
    assert visible.count() == 6
    assert page.locator("#visible-count").inner_text() == "6 of 6 nodes"
    # Worst first: errors, then warnings, then the name.
    order = [rows.nth(i).get_attribute("data-node") for i in range(6)]
    assert order[1:4] == ["worker-1", "worker-7", "rpi-worker-3"]
    assert order[4:] == ["ansible-host", "worker-2"]

    page.select_option("#f-severity", "error")
    assert visible.count() == 4  # two driver mismatches, the Pi, the hostile node
    page.select_option("#f-rule", "cgroup-controller-disabled")
    assert visible.count() == 1
    assert visible.first.get_attribute("data-node") == "rpi-worker-3"
    page.select_option("#f-rule", "")
    page.select_option("#f-severity", "")
    page.fill("#f-node", "worker-")
    assert visible.count() == 4  # worker-1, worker-7, worker-2, rpi-worker-3
    page.fill("#f-node", "RPI")
    assert visible.count() == 1
    page.fill("#f-node", "")
    page.check("#f-problems")
    assert visible.count() == 4
    page.uncheck("#f-problems")

    # A cell opens the finding's evidence and fix.
    row = page.locator('#matrix tr[data-node="worker-1"]')
    row.locator('td[data-rule="cgroup-driver-mismatch"] button').click()
    dialog = page.locator("#viewer")
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert "/etc/containerd/config.toml:125: SystemdCgroup = false" in text
    assert "set SystemdCgroup = true" in text
    assert "nodedoctor fix --only cgroup-driver-mismatch --apply" in text
    page.screenshot(path=str(tmp_path / "fleet-details.png"), full_page=True)
    page.click("#viewer-close")

    # The hostile node's text is shown as text, and nothing it carried ran.
    page.locator('td[data-rule="kubepods-invalid"] button').click()
    assert '<script>alert("x")</script>' in dialog.inner_text()
    page.click("#viewer-close")

    page.screenshot(path=str(tmp_path / "fleet.png"), full_page=True)
    assert (tmp_path / "fleet.png").stat().st_size > 10_000
    assert dialogs == []
    assert requests == []
    assert problems == []
    page.close()


def test_empty_fleet_renders() -> None:
    html = render_html_many([])
    assert "No reports." in html


def test_report_reads_batch_json_lines_and_bundles(tmp_path: Path) -> None:
    from tests.helpers import ROOTS

    roots = sorted(str(p / "root") for p in ROOTS.iterdir() if (p / "root").is_dir())[:3]
    assert len(roots) >= 2
    missing = str(tmp_path / "not-a-root")
    batch = subprocess.run(
        [
            sys.executable,
            "-m",
            "nodedoctor",
            "check",
            "--format",
            "json",
            "--root",
            *roots,
            missing,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert batch.returncode == 2, batch.stderr  # the missing root
    lines = tmp_path / "batch.jsonl"
    lines.write_text(batch.stdout, encoding="utf-8")
    bundle = tmp_path / "node.tar.gz"
    collect = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "collect", "--root", roots[0], "-o", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert collect.returncode == 0, collect.stderr
    out = tmp_path / "fleet.html"
    result = _report_cli(str(lines), str(bundle), "-o", str(out))
    # a node that could not be checked is a row, and the exit status says so (issue 15)
    assert result.returncode == 1, result.stderr
    assert "not-a-root was not checked" in result.stderr
    html = out.read_text(encoding="utf-8")
    assert html.count('<tr class="node"') == len(roots) + 1


@pytest.mark.slow
def test_nodes_not_checked_stay_visible_in_chromium(browser: object, tmp_path: Path) -> None:
    """A node that could not be checked is a problem row: the problem and severity filters
    keep it, a rule filter hides it (it has no rule's verdict), and the page has no error."""
    from playwright.sync_api import Browser

    from nodedoctor.render.reports import NotChecked

    assert isinstance(browser, Browser)
    page_file = tmp_path / "fleet.html"
    fleet = [samples.driver_mismatch("worker-1"), samples.healthy("worker-2")]
    unchecked = [NotChecked("/mnt/worker-3", "/mnt/worker-3 does not look like a node's root")]
    page_file.write_text(render_html_many(fleet, not_checked=unchecked), encoding="utf-8")
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(page_file.as_uri())
    visible = page.locator("#matrix tbody tr.node:not(.hidden)")
    assert page.locator("#visible-count").inner_text() == "3 of 3 nodes"
    assert visible.first.get_attribute("data-node") == "/mnt/worker-3"
    assert "NOT CHECKED /mnt/worker-3 does not look like" in visible.first.inner_text()
    page.check("#f-problems")
    assert [visible.nth(i).get_attribute("data-node") for i in range(visible.count())] == [
        "/mnt/worker-3",
        "worker-1",
    ]
    page.uncheck("#f-problems")
    page.select_option("#f-severity", "error")
    assert visible.count() == 2
    page.select_option("#f-severity", "")
    page.select_option("#f-rule", "cgroup-driver-mismatch")
    assert visible.count() == 1
    assert problems == []
    page.close()


def test_an_unreadable_report_is_a_row_not_the_end_of_the_page(tmp_path: Path) -> None:
    """One node's report is cut short: the page still shows the others, lists that file as
    not checked with why, counts it in the header, and exits 1; with nothing readable at
    all, exit 2 as before."""
    good, cut = tmp_path / "good.json", tmp_path / "cut.json"
    good.write_text(json.dumps(samples.healthy("worker-2").to_json()), encoding="utf-8")
    cut.write_text('{"schema": "nodedoctor/report/v1", "node": ', encoding="utf-8")
    page = tmp_path / "fleet.html"
    result = _report_cli(str(good), str(cut), "-o", str(page))
    assert result.returncode == 1, result.stderr
    html = page.read_text(encoding="utf-8")
    assert "2 nodes" in html
    assert "1 not checked" in html
    assert "NOT CHECKED" in html
    assert "not JSON" in html
    assert "worker-2" in html
    alone = _report_cli(str(cut), "-o", str(tmp_path / "none.html"))
    assert alone.returncode == 2
    assert not (tmp_path / "none.html").exists()
