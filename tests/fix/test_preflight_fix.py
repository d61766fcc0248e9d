"""``nodedoctor fix`` before Kubernetes: the sysctl drop-in and swap off through /etc/fstab,
applied on a root copy and rolled back (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodedoctor.cli import main
from tests.helpers import materialize_case

CASES = Path(__file__).resolve().parent.parent / "cases"
#: The swap line Ubuntu's installer (curtin) writes into /etc/fstab.
CURTIN_FSTAB = (
    "/dev/disk/by-uuid/cc59073d-9e5b-41e1-b724-576259341132 / ext4 defaults 0 0\n"
    "/swap.img\tnone\tswap\tsw\t0\t0\n"
)


@pytest.fixture
def node(tmp_path: Path) -> Path:
    """A kubeadm node before ``kubeadm join``, swap on, forwarding off."""
    root = materialize_case(CASES / "swap-enabled" / "bad-before-kubeadm-join", tmp_path / "n")
    (root / "etc" / "fstab").write_text(CURTIN_FSTAB)
    ipf = root / "proc" / "sys" / "net" / "ipv4" / "ip_forward"
    ipf.parent.mkdir(parents=True, exist_ok=True)
    ipf.write_text("0\n")
    return root


def test_fix_applies_sysctl_and_swap_then_rolls_back(
    node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dropin = node / "etc" / "sysctl.d" / "99-kubernetes-nodedoctor.conf"
    only = ["--only", "ip-forwarding-disabled", "swap-enabled"]
    code = main(["fix", "--root", str(node), *only, "--apply", "--yes", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    # Exit 0: on a root copy /proc keeps swap on and forwarding off until the node boots (or
    # runs sysctl --system and swapoff -a), so both findings need a reboot, which the plan says.
    assert code == 0, out
    assert out["plan"]["reboot"], out["plan"]
    assert out["applied"]["written"] == [
        "/etc/sysctl.d/99-kubernetes-nodedoctor.conf",
        "/etc/fstab",
    ]
    assert "net.ipv4.ip_forward = 1\n" in dropin.read_text()
    assert (node / "etc" / "fstab").read_text().splitlines()[
        1
    ] == "# /swap.img\tnone\tswap\tsw\t0\t0"
    assert "sysctl --system" in json.dumps(out)
    assert "swapoff -a" in json.dumps(out)
    journal = out["applied"]["journal"]
    assert main(["rollback", "--root", str(node), journal]) == 0
    assert not dropin.exists()
    assert (node / "etc" / "fstab").read_text() == CURTIN_FSTAB
