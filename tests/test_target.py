"""The target a node is judged against before the install (issue 13): where the deployer and
the Kubernetes version come from, how the node's sysctls are read from each kind of root
(recorded, a disk image, a host seen from a pod), and the CNI and IPv6 facts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import PROFILES
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.network import cni_in_use, ipv6_configured
from nodedoctor.facts.preparation import PREPARATIONS
from nodedoctor.facts.sysctl import (
    BRIDGE_NF_CALL_IPTABLES,
    IP_FORWARD,
    sysctl_config,
    sysctl_facts,
)
from nodedoctor.facts.target import DEPLOYER_DEFAULT, DETECTED, FLAG, KUBELET, target_facts
from nodedoctor.sources.root import directory_root
from tests.fix.helpers import write
from tests.helpers import ROOTS, case_root
from tests.incluster import REPO, run_as_daemonset, unshare_available

NODES = Path(__file__).parent / "nodes"


def _bare(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write(root, "etc/os-release", 'ID=ubuntu\nVERSION_ID="24.04"\n')
    return root


def _target(root: Path, profile: str | None = None, version: str | None = None) -> object:
    return Facts(directory_root(str(root)), profile=profile, kubernetes_version=version).get(
        target_facts
    )


def test_every_profile_has_its_preparation_with_sources() -> None:
    assert set(PREPARATIONS) == set(PROFILES)
    for prep in PREPARATIONS.values():
        assert prep.version_source
        assert prep.ip_forward_source
        assert prep.swap_source
        assert prep.bridge_netfilter_source
        assert prep.kubelet_driver_source
        if prep.default_version is not None:
            assert prep.default_version in prep.version_source


def test_nothing_installed_takes_the_deployers_default(tmp_path: Path) -> None:
    t = _target(_bare(tmp_path), "kubeadm")
    assert (t.deployer, t.deployer_source) == ("kubeadm", FLAG)  # type: ignore[attr-defined]
    assert (t.minor_text, t.version_source) == ("1.37", DEPLOYER_DEFAULT)  # type: ignore[attr-defined]
    assert "stable-1" in t.version_evidence.text  # type: ignore[attr-defined]
    assert t.before_install  # type: ignore[attr-defined]


def test_the_flag_wins_and_a_deployer_resolved_online_stays_unknown(tmp_path: Path) -> None:
    root = _bare(tmp_path)
    flagged = _target(root, "k3s", "v1.35.2")
    assert (flagged.kubernetes_version.release, flagged.version_source) == ((1, 35, 2), FLAG)  # type: ignore[attr-defined]
    unknown = _target(root, "k3s")
    assert unknown.kubernetes_version is None  # type: ignore[attr-defined]
    assert "stable channel" in unknown.version_unknown  # type: ignore[attr-defined]
    nothing = _target(root)
    assert (nothing.deployer, nothing.kubernetes_version) == (None, None)  # type: ignore[attr-defined]


def test_an_installed_kubelet_gives_the_version_and_the_flag_is_noted(tmp_path: Path) -> None:
    root = ROOTS / "kubeadm-healthy-v2" / "root"
    t = _target(root)
    assert (t.deployer_source, t.version_source, t.minor_text) == (  # type: ignore[attr-defined]
        DETECTED,
        KUBELET,
        "1.33",
    )
    flagged = _target(root, version="1.35")
    assert flagged.version_source == FLAG  # type: ignore[attr-defined]
    assert "the installed kubelet is 1.33" in flagged.version_note  # type: ignore[attr-defined]


def test_a_forced_k3s_profile_on_a_bare_node_is_not_an_installed_kubelet(tmp_path: Path) -> None:
    """k3s's own flags (--fail-swap-on=false ...) are the deployer's, not a trace of k3s."""
    facts = Facts(directory_root(str(_bare(tmp_path))), profile="k3s")
    assert not facts.get(kubelet_facts).installed


@pytest.mark.parametrize("value", ["stable", "1", "1.35.x", "v1"])
def test_a_version_that_is_not_one_is_a_usage_error(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "check", "--kubernetes-version", value],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{REPO}/src:{REPO}"},
        check=False,
    )
    assert done.returncode == 2
    assert "is not a version like 1.35" in done.stderr


def test_a_recorded_root_without_the_bridge_keys_had_no_br_netfilter(tmp_path: Path) -> None:
    root = _bare(tmp_path)
    image = Facts(directory_root(str(root))).get(sysctl_facts)
    assert image.value(IP_FORWARD).present is None  # a disk image: unknown, not 0
    assert "not in this root" in image.value(IP_FORWARD).unknown
    write(root, "proc/sys/net/ipv4/ip_forward", "1\n")
    recorded = Facts(directory_root(str(root))).get(sysctl_facts)
    assert recorded.value(IP_FORWARD).value == "1"
    assert recorded.value(BRIDGE_NF_CALL_IPTABLES).present is False


def test_sysctl_files_apply_in_name_order_and_sysctl_conf_last(tmp_path: Path) -> None:
    root = _bare(tmp_path)
    write(root, "usr/lib/sysctl.d/50-default.conf", "net.ipv4.ip_forward = 0\n")
    write(root, "etc/sysctl.d/10-k8s.conf", "net.ipv4.ip_forward = 1\n")
    write(root, "etc/sysctl.d/50-default.conf", "# masks the vendor file of that name\n")
    facts = Facts(directory_root(str(root))).get(sysctl_config)
    assert facts.files == ("/etc/sysctl.d/10-k8s.conf", "/etc/sysctl.d/50-default.conf")
    assert facts.configured_value(IP_FORWARD).value == "1"  # type: ignore[union-attr]
    write(root, "etc/sysctl.conf", "net.ipv4.ip_forward=0\n")
    last = Facts(directory_root(str(root))).get(sysctl_config).configured_value(IP_FORWARD)
    assert (last.path, last.value) == ("/etc/sysctl.conf", "0")  # type: ignore[union-attr]


def test_the_runtime_reads_the_first_cni_file_by_name(tmp_path: Path) -> None:
    root = case_root("bridge-netfilter/bad-flannel-node-no-module")
    cni = Facts(directory_root(str(root))).get(cni_in_use)
    assert cni.path == "/etc/cni/net.d/10-flannel.conflist"
    assert cni.config is not None
    assert cni.config.bridge == "flannel"


def test_ipv6_is_read_from_the_clusters_files() -> None:
    dual = case_root("ip-forwarding-disabled/bad-ipv6-dual-stack-before-kubeadm")
    found = ipv6_configured(Facts(directory_root(str(dual))))
    assert found is not None
    assert found.source == "/etc/kubernetes/kubeadm-config.yaml"
    assert ipv6_configured(Facts(directory_root(str(ROOTS / "kubeadm-healthy-v2/root")))) is None


@pytest.mark.root
@pytest.mark.skipif(not unshare_available(), reason="needs root and unshare(1)")
def test_a_pod_reads_the_hosts_forwarding_through_pid_1(tmp_path: Path) -> None:
    """From a DaemonSet pod without hostNetwork, /proc/sys/net is the pod's: the node's IPv4
    forwarding comes from /proc/1/net/snmp (tests/incluster.py replays the recorded value in
    PID 1's network namespace)."""
    root = tmp_path / "node"
    shutil.copytree(NODES / "kubeadm-debian12" / "root", root, symlinks=True)
    (root / "proc/sys/net/ipv4/ip_forward").write_text("0\n", encoding="utf-8")
    runs = run_as_daemonset(
        root, tmp_path / "work", [["check", "--root", "{host}", "--format", "json"]]
    )
    report = json.loads(runs[0].stdout)
    forwarding = [f for f in report["findings"] if f["rule"] == "ip-forwarding-disabled"]
    assert [f["severity"] for f in forwarding] == ["error"], report["findings"]
    sources = {e["source"] for e in forwarding[0]["evidence"]}
    assert "/proc/1/net/snmp" in sources
