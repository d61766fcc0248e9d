"""Languages (issue 16): the zh_CN catalog is complete and well-formed, the compiled catalog
matches its source, the language follows the environment and ``--lang``, and a Chinese report
fits 80 display columns."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodedoctor import i18n
from nodedoctor.cli import main
from tests.helpers import ROOTS

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import msgfmt  # noqa: E402
import xgettext  # noqa: E402

PO = REPO / "src/nodedoctor/locale/zh_CN/LC_MESSAGES/nodedoctor.po"
#: ``{name}``, ``{name!r}``, ``%(name)s``: what a translation must keep.
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sd]")


def _catalog() -> dict[bytes, bytes]:
    return msgfmt.merged(msgfmt.sources(PO.with_suffix(".mo")))


def test_every_marked_message_is_translated_with_its_placeholders() -> None:
    catalog = _catalog()
    for (msgid, plural), where in xgettext.messages().items():
        key = msgid if plural is None else f"{msgid}\0{plural}"
        translated = catalog.get(key.encode())
        assert translated, f"{where[0]}: {msgid!r} has no zh_CN translation"
        for form in translated.decode().split("\0"):
            assert form.strip(), f"{where[0]}: {msgid!r}: an empty translation"
            assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(msgid)), (
                f"{where[0]}: {msgid!r} -> {form!r}: placeholders differ"
            )


def test_the_catalog_holds_nothing_the_code_does_not_use() -> None:
    used = {m if p is None else f"{m}\0{p}" for m, p in xgettext.messages()}
    stale = {k.decode() for k in _catalog() if k} - used
    assert not stale


def test_the_committed_mo_is_the_po_compiled() -> None:
    assert msgfmt.main(["--check"]) == 0, "run scripts/msgfmt.py"


def test_parse_errors_name_file_and_line() -> None:
    with pytest.raises(msgfmt.PoError, match=r"x.po:2: msgid twice"):
        msgfmt.parse_po('msgid "a"\nmsgid "b"\nmsgstr "c"\n', "x.po")
    with pytest.raises(msgfmt.PoError, match=r"x.po:1: malformed"):
        msgfmt.parse_po('msgid "a\\"\n', "x.po")


def test_a_message_in_two_parts_names_both(tmp_path: Path) -> None:
    one, two = tmp_path / "one.po", tmp_path / "two.po"
    one.write_text('msgid ""\nmsgstr "X: 1\\n"\n\nmsgid "a"\nmsgstr "A"\n', encoding="utf-8")
    two.write_text('msgid "a"\nmsgstr "B"\n', encoding="utf-8")
    with pytest.raises(msgfmt.PoError, match=r"two.po: msgid 'a' is also in .*one.po"):
        msgfmt.merged([one, two])


def test_fuzzy_and_untranslated_entries_are_left_out() -> None:
    po = '#, fuzzy\nmsgid "a"\nmsgstr "A"\n\nmsgid "b"\nmsgstr ""\n\nmsgid "c"\nmsgstr "C"\n'
    assert msgfmt.parse_po(po) == {b"c": b"C"}


@pytest.mark.skipif(not shutil.which("msgunfmt"), reason="Debian's gettext is not installed")
def test_gnu_msgfmt_and_ours_give_the_same_catalog(tmp_path: Path) -> None:
    gnu = tmp_path / "gnu.mo"
    parts = [str(p) for p in msgfmt.sources(PO.with_suffix(".mo"))]
    # --check-header only for the first: a part has no header entry of its own (GNU msgfmt
    # would find two headers), so each is checked for formats and domain.
    subprocess.run(["msgfmt", "--check-header", "-o", os.devnull, parts[0]], check=True)
    subprocess.run(
        ["msgfmt", "--check-format", "--check-domain", "-o", str(gnu), *parts], check=True
    )
    ours = PO.with_suffix(".mo")
    unfmt = [
        subprocess.run(["msgunfmt", str(m)], check=True, capture_output=True).stdout
        for m in (gnu, ours)
    ]
    assert unfmt[0] == unfmt[1]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX", "LC_ALL": ""}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.GB18030"}, "zh_CN"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "fr:zh_CN"}, "zh_CN"),
        ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "de_DE:fr"}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "en"),
        ({"LANG": "xx_YY.UTF-8"}, "en"),
    ],
)
def test_the_environment_in_gettexts_order(environ: dict[str, str], expected: str) -> None:
    assert i18n.negotiate(environ) == expected


def _check(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        main(args)
    finally:
        i18n.set_language(None)
    return capsys.readouterr().out


HEALTHY = str(ROOTS / "kubeadm-healthy-v2" / "root")


def test_lang_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert "项通过" in _check(["check", "--root", HEALTHY, "--lang", "zh_CN"], capsys)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "项通过" in _check(["check", "--root", HEALTHY], capsys)
    english = _check(["check", "--root", HEALTHY, "--lang", "en"], capsys)
    assert " passed · " in english
    assert "项" not in english


def test_an_unknown_language_is_english(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANG", "tlh_XX.UTF-8")
    assert " passed · " in _check(["check", "--root", HEALTHY], capsys)
    assert main(["check", "--root", HEALTHY, "--lang", "tlh"]) == 2
    assert "--lang" in capsys.readouterr().err


def test_the_json_report_names_its_language(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    for lang in ("en", "zh_CN"):
        out = _check(["check", "--root", HEALTHY, "--format", "json", "--lang", lang], capsys)
        assert json.loads(out)["language"] == lang


def test_wide_text_wraps_by_display_columns_and_keeps_paths_whole() -> None:
    from nodedoctor.render.text import columns, wrap

    text = "修改" * 30 + " /etc/containerd/config.toml，" + "然后重启节点" * 5
    lines = wrap(text, 40, "  修复： ", "    ")
    assert all(columns(line) <= 40 for line in lines)
    assert any("/etc/containerd/config.toml，" in line for line in lines)
    assert not any(line.lstrip().startswith("，") for line in lines)


def test_every_root_reports_in_chinese_within_80_columns(tmp_path: Path) -> None:
    """As tests/test_terminal.py in-process, in zh_CN: a line is at most 80 display columns,
    unless it is a command (``$ ...``, the ``more:`` line) or one long word."""
    from nodedoctor._record import replace
    from nodedoctor.render.text import columns, render_text
    from tests.helpers import check_root
    from tests.render.roots import every_root
    from tests.test_terminal import expected

    roots = [expected(*r) for r in every_root(tmp_path)]  # runs main(), which sets the language
    i18n.set_language("zh_CN")
    try:
        for e in roots:
            report = replace(check_root(e.root, profile=e.profile), node_options=e.options)
            text = render_text(report, width=80, verbosity=1)
            assert "项通过" in text, e.name
            for line in text.splitlines():
                stripped = line.strip()
                whole = stripped.startswith(("$ ", i18n._("more:") + " nodedoctor ")) or (
                    " " not in stripped and columns(stripped) == len(stripped)
                )
                assert columns(line) <= 80 or whole, f"{e.name}: too wide: {line}"
    finally:
        i18n.set_language(None)
