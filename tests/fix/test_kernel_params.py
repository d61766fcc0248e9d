"""Remedies for the node's kernel parameters, modules and swap (issue 13): where the edit
goes, what the plan runs, that what it writes parses for the tools that read it at boot, and
that apply and rollback leave a root copy as it was.

The golden apply of a node before kubeadm: tests/fix/cases/kubeadm-before-install-prerequisites.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nodedoctor.cli import main
from nodedoctor.facts import Facts
from nodedoctor.facts.sysctl import sysctl_config
from nodedoctor.fix.lineedit import add_module, comment_fstab_lines, set_sysctl
from nodedoctor.fix.planner import build_plan
from nodedoctor.fix.textedit import EditError
from nodedoctor.model import Finding, Severity
from nodedoctor.parsers.fstab import parse_fstab
from nodedoctor.parsers.sysctl import parse_modules_load, parse_sysctl_conf
from nodedoctor.remedies.steps import Reboot, Refuse, RunNow, SysctlSet
from nodedoctor.remedies.sysctl import SYSCTL_DROPIN, sysctl_remedy
from nodedoctor.sources.root import directory_root
from tests.fix.helpers import snapshot, write
from tests.helpers import case_root

GOLDEN = Path(__file__).parent / "cases" / "kubeadm-before-install-prerequisites"
FORWARD = (("net.ipv4.ip_forward", "1"),)


def _facts(root: Path) -> Facts:
    return Facts(directory_root(str(root)))


def _node(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write(root, "etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    write(root, "proc/sys/net/ipv4/ip_forward", "0\n")
    return root


def test_the_drop_in_is_written_where_no_file_sets_the_key(tmp_path: Path) -> None:
    remedy = sysctl_remedy(_facts(_node(tmp_path)), FORWARD, "ip-forwarding-disabled")
    edits = [s for s in remedy.steps if isinstance(s, SysctlSet)]
    assert [(s.path, s.key, s.value) for s in edits] == [
        (SYSCTL_DROPIN, "net.ipv4.ip_forward", "1")
    ]
    # A root copy runs nothing: the next boot applies the file.
    assert [s.argv for s in remedy.steps if isinstance(s, RunNow)] == [("sysctl", "--system")]
    assert any(isinstance(s, Reboot) for s in remedy.steps)


def test_an_admin_file_that_sets_the_key_last_is_changed_there(tmp_path: Path) -> None:
    """Kubespray's and KubeKey's layout: the value lives in /etc/sysctl.conf, which
    ``sysctl --system`` applies after every drop-in, so a drop-in would lose to it."""
    root = _node(tmp_path)
    write(root, "etc/sysctl.d/10-net.conf", "net.ipv4.ip_forward = 1\n")
    write(root, "etc/sysctl.conf", "# hardening\nnet.ipv4.ip_forward=0\nvm.swappiness = 10\n")
    facts = _facts(root)
    assert facts.get(sysctl_config).configured_value("net.ipv4.ip_forward").path == (  # type: ignore[union-attr]
        "/etc/sysctl.conf"
    )
    remedy = sysctl_remedy(facts, FORWARD, "ip-forwarding-disabled")
    finding = Finding("ip-forwarding-disabled", Severity.ERROR, "t", "m", remedy=remedy)
    plan = build_plan(facts, [finding])
    assert [s.path for s in plan.steps] == ["/etc/sysctl.conf"]
    new = plan.steps[0].new.decode()
    assert new == "# hardening\nnet.ipv4.ip_forward=1\nvm.swappiness = 10\n"


def test_a_vendor_file_applied_after_the_drop_in_is_refused(tmp_path: Path) -> None:
    root = _node(tmp_path)
    write(root, "usr/lib/sysctl.d/99-zz-vendor.conf", "net.ipv4.ip_forward = 0\n")
    remedy = sysctl_remedy(_facts(root), FORWARD, "ip-forwarding-disabled")
    refusals = [s for s in remedy.steps if isinstance(s, Refuse)]
    assert refusals, remedy
    assert "/usr/lib/sysctl.d/99-zz-vendor.conf:1" in refusals[0].reason


def test_files_already_right_plan_no_edit_offline(tmp_path: Path) -> None:
    """The running value is 0 but the files set 1: live, `sysctl --system` alone; on a root
    copy nothing to run, the next boot applies them (and a second fix plans nothing)."""
    root = _node(tmp_path)
    write(root, "etc/sysctl.d/k8s.conf", "net.ipv4.ip_forward = 1\n")
    facts = _facts(root)
    remedy = sysctl_remedy(facts, FORWARD, "ip-forwarding-disabled")
    assert remedy.steps == (Reboot(),)
    plan = build_plan(
        facts, [Finding("ip-forwarding-disabled", Severity.ERROR, "t", "m", remedy=remedy)]
    )
    assert not plan.actionable


def test_sysctl_edits_keep_other_lines_and_refuse_what_does_not_parse() -> None:
    text = "# a\n-net/ipv4/ip_forward = 0\nkernel.panic = 10\n"
    assert set_sysctl(text, "net.ipv4.ip_forward", "1") == (
        "# a\n-net/ipv4/ip_forward = 1\nkernel.panic = 10\n"
    )
    with pytest.raises(EditError):
        set_sysctl("not an assignment\n", "net.ipv4.ip_forward", "1")
    assert add_module("overlay", "br_netfilter") == "overlay\nbr_netfilter\n"
    with pytest.raises(EditError):
        comment_fstab_lines("/swap.img none swap sw 0 0\n", [(1, "/dev/sda2 none swap sw 0 0")])


def test_the_golden_files_parse_for_their_readers() -> None:
    after = GOLDEN / "after" / "etc"
    sysctl = parse_sysctl_conf((after / "sysctl.d/99-kubernetes-nodedoctor.conf").read_text())
    assert {(a.key, a.value) for a in sysctl} == {
        ("net.ipv4.ip_forward", "1"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
    }
    modules = parse_modules_load((after / "modules-load.d/br_netfilter.conf").read_text())
    assert [m for m, _ in modules] == ["br_netfilter"]
    fstab = parse_fstab((after / "fstab").read_text())
    assert not [e for e in fstab if e.is_swap]
    if shutil.which("findmnt"):
        done = subprocess.run(
            ["findmnt", "--verify", "--tab-file", str(after / "fstab")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "0 parse errors" in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.root
def test_sysctl_accepts_the_drop_in_in_a_network_namespace_of_its_own(tmp_path: Path) -> None:
    """procps's own parser reads the written drop-in: ``sysctl -p`` in a private network
    namespace (the values it sets there die with it; the host's stay as they were)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("sysctl") is None:
        pytest.skip("needs root, unshare and sysctl")
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        pytest.skip("br_netfilter is not available on this machine")
    host_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    drop_in = GOLDEN / "after/etc/sysctl.d/99-kubernetes-nodedoctor.conf"
    script = f"sysctl -p {drop_in} && cat /proc/sys/net/ipv4/ip_forward"
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("1"), done.stdout
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_before


def test_apply_then_rollback_on_a_root_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bridge-netfilter bad case before kubeadm 1.29: the module file and the drop-in
    are created, a second plan has nothing, rollback removes them and the directories made."""
    root = tmp_path / "node"
    shutil.copytree(
        case_root("bridge-netfilter/bad-before-kubeadm-1.29-no-module"), root, symlinks=True
    )
    before = snapshot(root)
    args = ["--root", str(root), "--profile", "kubeadm", "--kubernetes-version", "1.29"]
    assert main(["fix", *args, "--apply", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "not run: modprobe br_netfilter (offline root: run it on the node)" in out
    assert "wrote /etc/modules-load.d/br_netfilter.conf" in out
    assert (root / "etc/modules-load.d/br_netfilter.conf").exists()
    assert main(["fix", *args]) == 0  # nothing left to plan
    capsys.readouterr()
    assert main(["rollback", "--root", str(root)]) == 0
    assert snapshot(root) == before
    assert not (root / "etc/modules-load.d").exists()
