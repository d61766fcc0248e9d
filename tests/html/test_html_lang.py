"""The HTML pages in both languages (issue 16): the English page of a root is the recorded
one byte for byte; the zh_CN pages say ``lang="zh-CN"``, carry Chinese headings and labels,
and the fleet page's script, whose counter words follow the language, is still the one its
Content-Security-Policy allows (by hash)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodedoctor import i18n
from nodedoctor.cli import main
from tests.helpers import ROOTS

REPO = Path(__file__).resolve().parent.parent.parent
GOLDEN = REPO / "tests/golden/en"
ROOT = "kubekey-teardown-calico"


@pytest.fixture(autouse=True)
def _environment_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    i18n.set_language(None)
    yield
    i18n.set_language(None)


def _page(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main(argv)
    return capsys.readouterr().out


def _single(lang: str, capsys: pytest.CaptureFixture[str]) -> str:
    root = str(ROOTS / ROOT / "root")
    page = _page(["check", "--root", root, "--format", "html", "--lang", lang], capsys)
    return page.replace(root, "<ROOT>")


def _fleet(lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    reports = []
    for name in (ROOT, "rpi-os-bookworm-stub-edited", "kubeadm-healthy-v2"):
        out = tmp_path / f"{name}.json"
        main(["check", "--root", str(ROOTS / name / "root"), "--format", "json", "-o", str(out)])
        reports.append(str(out))
    capsys.readouterr()
    return _page(["report", *reports, "--lang", lang], capsys)


def _script_allowed(page: str) -> None:
    """The page's one script is the one its Content-Security-Policy names by hash."""
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page


def test_the_english_page_of_a_root_is_as_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    recorded = (GOLDEN / f"html-root-{ROOT}.html").read_text(encoding="utf-8")
    page = _single("en", capsys)
    assert page == recorded.rsplit("[exit", 1)[0]
    assert '<html lang="en">' in page


def test_the_chinese_page_of_a_root(capsys: pytest.CaptureFixture[str]) -> None:
    page = _single("zh_CN", capsys)
    assert '<html lang="zh-CN">' in page
    assert "<title>nodedoctor 报告：" in page
    for heading in ("<h2>已跳过</h2>", "<h2>已通过</h2>", "<dt>证据</dt>", "<dt>修复</dt>"):
        assert heading in page, heading
    verdict = re.search(r'<p id="verdict">([^<]*)</p>', page)
    assert verdict is not None
    assert "项通过" in verdict.group(1)
    # Identifiers stay as they are: rule ids, commands, severities' badges.
    assert "<code>nodedoctor explain cni-network-left</code>" in page
    assert ">WARNING</span>" in page or ">ERROR</span>" in page


def test_the_chinese_fleet_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = _fleet("zh_CN", tmp_path, capsys)
    assert '<html lang="zh-CN">' in page
    assert "<title>nodedoctor 集群节点报告</title>" in page
    for label in (
        "<h2>各规则统计</h2>",
        "<th>节点</th>",
        "> 只显示有发现的节点</label>",
        ">关闭</button>",
    ):
        assert label in page, label
    assert re.search(r"<p>3 个节点 · \d+ 个有错误 · \d+ 个有警告 · \d+ 条规则触发 · 生成于 ", page)
    words = json.dumps("显示 ", ensure_ascii=False)
    assert f"counter.textContent = {words} + shown" in page
    _script_allowed(page)


def test_the_english_fleet_page_keeps_its_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _fleet("en", tmp_path, capsys)
    assert '<html lang="en">' in page
    assert 'counter.textContent = shown + " of " + rows.length + " nodes";' in page
    _script_allowed(page)
