"""``check --profile kubeadm --kubernetes-version 1.35`` on this machine with nothing installed,
forwarding turned off by binding a file over /proc/sys/net/ipv4/ip_forward inside a private
mount namespace of the test's own (the host's value is never written)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a mount namespace"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare"),
]


def test_forwarding_off_and_cgroup_v1_before_kubeadm(tmp_path: Path) -> None:
    before = Path(IP_FORWARD).read_text()
    off = tmp_path / "ip_forward"
    off.write_text("0\n")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    script = (
        f"mount --bind {off} {IP_FORWARD} && exec {sys.executable} -m nodedoctor check "
        "--profile kubeadm --kubernetes-version 1.35 --format json"
    )
    run = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    report = json.loads(run.stdout)
    found = {f["rule"]: f for f in report["findings"]}
    assert report["node"]["target"] == {
        "deployer": "kubeadm",
        "deployer_source": "flag",
        "kubernetes_version": "1.35",
        "version_source": "flag",
    }
    fwd = found["ip-forwarding-disabled"]
    assert fwd["severity"] == "error"
    assert "FileContent--proc-sys-net-ipv4-ip_forward" in fwd["message"]
    assert "/etc/sysctl.d/99-kubernetes-nodedoctor.conf" in fwd["fix"]["files"]
    if report["node"]["cgroup"]["mode"] in ("v1", "hybrid"):
        assert found["cgroup-v1-unsupported"]["severity"] == "error"
    assert Path(IP_FORWARD).read_text() == before  # the host's own value untouched
