"""``nodedoctor fix``, ``rollback`` and ``journal`` on the command line: exit codes, the
confirmation, the text plan, refusals."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from nodedoctor.cli import main
from tests.helpers import ROOTS

PI = ROOTS / "rocky9-rpi4-before-kubespray/root"
HEALTHY = ROOTS / "kubeadm-healthy-v2/root"


@pytest.fixture
def pi(tmp_path: Path) -> Path:
    root = tmp_path / "pi"
    shutil.copytree(PI, root, symlinks=True)
    return root


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plan_text_shows_finding_diff_and_reboot(
    pi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fix", "--root", str(pi)]) == 1
    out = capsys.readouterr().out
    assert "edit /boot/cmdline.txt" in out
    assert "for cgroup-controller-disabled:" in out
    assert "+console=ttyAMA0,115200" in out
    assert "cgroup_enable=memory" in out
    assert "reboot required afterwards" in out
    assert (pi / "boot/cmdline.txt").read_text().rstrip().endswith("rootwait")  # unchanged


def test_nothing_to_fix_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--root", str(HEALTHY)]) == 0
    assert "nothing to fix" in capsys.readouterr().out


def test_apply_without_terminal_or_yes_is_refused(
    pi: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    before = (pi / "boot/cmdline.txt").read_bytes()
    assert main(["fix", "--root", str(pi), "--apply"]) == 2
    assert "--apply without a terminal needs --yes" in capsys.readouterr().err
    assert (pi / "boot/cmdline.txt").read_bytes() == before


def test_apply_asks_on_a_terminal(
    pi: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (pi / "boot/cmdline.txt").read_bytes()
    monkeypatch.setattr("sys.stdin", _Tty("n\n"))
    assert main(["fix", "--root", str(pi), "--apply"]) == 1
    err = capsys.readouterr().err
    assert "apply 1 edit(s) to" in err
    assert "nothing changed" in err
    assert (pi / "boot/cmdline.txt").read_bytes() == before
    monkeypatch.setattr("sys.stdin", _Tty("y\n"))
    assert main(["fix", "--root", str(pi), "--apply"]) == 0
    out = capsys.readouterr().out
    assert "wrote /boot/cmdline.txt" in out
    assert "needs-reboot" in out
    assert (pi / "boot/cmdline.txt").read_bytes() != before


def test_restart_needs_apply(pi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--root", str(pi), "--restart"]) == 2
    assert "--restart needs --apply" in capsys.readouterr().err


def test_unknown_rule(pi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--root", str(pi), "--only", "no-such-rule"]) == 2
    assert "unknown rule" in capsys.readouterr().err


def test_only_limits_the_plan(pi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--root", str(pi), "--only", "swap-enabled", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["steps"] == []


def test_journal_and_rollback_cli(pi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = (pi / "boot/cmdline.txt").read_bytes()
    assert main(["journal", "--root", str(pi)]) == 0
    assert "no fixes applied yet" in capsys.readouterr().out
    assert main(["rollback", "--root", str(pi)]) == 2
    assert "nothing to roll back" in capsys.readouterr().err
    code = main(["fix", "--root", str(pi), "--apply", "--yes", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured
    journal_id = json.loads(captured.out)["applied"]["journal"]
    assert main(["journal", "--root", str(pi)]) == 0
    listing = capsys.readouterr().out
    assert journal_id in listing
    assert "cgroup-controller-disabled" in listing
    # Someone edits the file afterwards: rollback refuses, --force restores.
    (pi / "boot/cmdline.txt").write_text("console=tty1 rootwait quiet\n")
    assert main(["rollback", "--root", str(pi), journal_id]) == 1
    out = capsys.readouterr().out
    assert "refused" in out
    assert "/boot/cmdline.txt: changed since the apply" in out
    assert main(["rollback", "--root", str(pi), journal_id, "--force"]) == 0
    assert "overwrote /boot/cmdline.txt" in capsys.readouterr().out
    assert (pi / "boot/cmdline.txt").read_bytes() == original
    assert main(["journal", "--root", str(pi), "--format", "json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["state"] == "rolled-back"


def test_refused_apply_writes_nothing_and_says_why(
    pi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (pi / "boot/cmdline.txt").chmod(0o444)
    assert main(["fix", "--root", str(pi), "--apply", "--yes"]) == 1
    out = capsys.readouterr().out
    assert "nothing written: /boot/cmdline.txt: refused: read-only (mode 0444)" in out
    assert not (pi / "var/lib/nodedoctor").exists()


def test_fix_on_a_bundle_plans_but_never_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nodedoctor.collect import collect
    from nodedoctor.sources.root import directory_root

    bundle = tmp_path / "pi.tar.gz"
    collect(directory_root(str(PI)), str(bundle))
    assert main(["fix", "--bundle", str(bundle), "--format", "json"]) == 1
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert [s["path"] for s in plan["steps"]] == ["/boot/cmdline.txt"]
    assert main(["fix", "--bundle", str(bundle), "--apply", "--yes"]) == 2
    assert "a bundle is a copy of a node" in capsys.readouterr().err
