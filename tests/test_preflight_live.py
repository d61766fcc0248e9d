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
        "evidence": [
            {"source": "--profile", "text": "--profile kubeadm"},
            {"source": "--kubernetes-version", "text": "--kubernetes-version 1.35"},
        ],
        "version_note": None,
        "kubelet_installed": False,
    }
    fwd = found["ip-forwarding-disabled"]
    assert fwd["severity"] == "error"
    assert "FileContent--proc-sys-net-ipv4-ip_forward" in fwd["message"]
    assert "/etc/sysctl.d/99-kubernetes-nodedoctor.conf" in fwd["fix"]["files"]
    assert fwd["fix"]["commands"] == ["sysctl --system"]
    if report["node"]["cgroup"]["mode"] in ("v1", "hybrid"):
        v1 = found["cgroup-v1-unsupported"]
        assert v1["severity"] == "error"
        assert "[ERROR SystemVerification]" in v1["message"]
        assert "cgroup v2" in v1["fix"]["summary"]
    else:
        assert "cgroup-v1-unsupported" not in found
    assert Path(IP_FORWARD).read_text() == before  # the host's own value untouched


def _run_with_forwarding(
    value: str, tmp_path: Path, *argv: str
) -> subprocess.CompletedProcess[str]:
    """``python -m nodedoctor ARGV`` live, with ``value`` bound over ip_forward in a private
    mount namespace of the test's own."""
    fake = tmp_path / "ip_forward"
    fake.write_text(f"{value}\n")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", "NO_COLOR": "1", "COLUMNS": "80"}
    script = f"mount --bind {fake} {IP_FORWARD} && exec {sys.executable} -m nodedoctor " + " ".join(
        argv
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_forwarding_on_is_not_reported(tmp_path: Path) -> None:
    done = _run_with_forwarding(
        "1",
        tmp_path,
        "check",
        "--profile",
        "kubeadm",
        "--kubernetes-version",
        "1.35",
        "--format",
        "json",
    )
    report = json.loads(done.stdout)
    assert "ip-forwarding-disabled" not in {f["rule"] for f in report["findings"]}


def test_the_text_report_says_the_target_and_fix_plans_the_drop_in(tmp_path: Path) -> None:
    options = ("--profile", "kubeadm", "--kubernetes-version", "1.35")
    done = _run_with_forwarding("0", tmp_path, "check", *options)
    assert "target: kubeadm 1.35 (deployer given, version given)" in done.stdout
    assert "ERROR    ip-forwarding-disabled: IPv4 forwarding is off" in done.stdout
    plan = _run_with_forwarding("0", tmp_path, "fix", *options, "--only", "ip-forwarding-disabled")
    assert plan.returncode == 1, plan.stderr
    assert "create /etc/sysctl.d/99-kubernetes-nodedoctor.conf" in plan.stdout
    assert "+net.ipv4.ip_forward = 1" in plan.stdout
    assert "sysctl --system" in plan.stdout
