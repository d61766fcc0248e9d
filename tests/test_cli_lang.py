"""The command line's own words in zh_CN (issue 16): argparse's headings and usage errors
follow the language of the run and are argparse's own again in English; nodedoctor's usage
errors are translated; fix and clean plans of a root read in Chinese."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nodedoctor import cli, i18n
from nodedoctor.cli import main
from tests.helpers import ROOTS


@pytest.fixture(autouse=True)
def _environment_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COLUMNS", "80")
    yield
    i18n.set_language("en")
    cli._argparse_language()  # argparse's own words again for the tests after
    i18n.set_language(None)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    out = capsys.readouterr()
    return code, out.out, out.err


def test_argparse_help_and_errors_follow_the_language(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _run(["fix", "--help", "--lang", "zh_CN"], capsys)
    assert code == 0
    assert out.startswith("用法：nodedoctor fix")
    assert "\n选项:\n" in out  # argparse adds the colon
    assert "显示此帮助信息并退出" in out
    code, _out, err = _run(["check", "--format", "bogus", "--lang", "zh_CN"], capsys)
    assert code == 2
    assert "nodedoctor check：错误：参数 --format：无效的选择：'bogus'" in err
    # English again in the same process: argparse's own words, untouched.
    code, out, _err = _run(["fix", "--help", "--lang", "en"], capsys)
    assert out.startswith("usage: nodedoctor fix")
    assert "show this help message and exit" in out
    code, _out, err = _run(["check", "--format", "bogus"], capsys)
    assert "nodedoctor check: error: argument --format: invalid choice: 'bogus'" in err


def test_usage_errors_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(["check", "--only", "no-such-rule", "--lang", "zh_CN"], capsys)
    assert code == 2
    assert err.startswith("nodedoctor：未知的规则 'no-such-rule'")
    code, _out, err = _run(["check", "--kubernetes-version", "one", "--lang", "zh_CN"], capsys)
    assert code == 2
    assert "'one' 不是形如 1.35 或 1.35.2 的版本" in err


def test_fix_and_clean_plans_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    root = str(ROOTS / "rpi-os-bookworm-stub-edited" / "root")
    code, out, _err = _run(["fix", "--root", root, "--lang", "zh_CN"], capsys)
    assert code == 1
    assert "修改 /boot/firmware/cmdline.txt" in out
    assert '针对 cgroup-controller-disabled：将 "cgroup_enable=memory" 添加到 ' in out
    assert "之后需要重启节点（针对 cgroup-controller-disabled）；nodedoctor 从不重启节点" in out
    root = str(ROOTS / "kubekey-teardown-calico" / "root")
    code, out, _err = _run(["clean", "--root", root, "--lang", "zh_CN"], capsys)
    assert code == 1
    assert "（离线：仅计划）" in out
    assert "\n卸载     /run/calico/cgroup  (来自 none 的 cgroup2)\n" in out
    assert "\n           原因 空的 kubepods cgroup" in out
    assert "\n保留     /sys/fs/bpf  (bpffs) 标准 bpffs：" in out
    assert "5 个待卸载的挂载, 5 个待删除的空 cgroup, 4 个待移入变更记录的路径" in out


@pytest.mark.parametrize(
    "command", ["check", "fix", "clean", "collect", "report", "why", "rules", "explain", "journal"]
)
def test_chinese_help_fits_80_columns(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse wraps at spaces by characters; a Chinese help text is wrapped by display
    columns (only argparse's usage line of long choices, ASCII as in English, may be wider)."""
    from nodedoctor.render.text import columns

    _code, out, _err = _run(["--lang", "zh_CN", command, "--help"], capsys)
    assert "选项" in out
    wide = [line for line in out.splitlines() if not line.isascii() and columns(line) > 80]
    assert not wide, wide
    if command == "fix":
        # The examples stay one a line, each command whole and first on its line.
        assert "\n  nodedoctor fix --only swap-enabled --apply " in out
