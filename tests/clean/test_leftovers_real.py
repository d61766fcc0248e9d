"""A torn-down cluster's leftovers made for real (files, CNI plugins' interfaces and IPAM
state, iptables and nftables rules, a pod directory with a mounted volume) inside private
mount, network and PID namespaces (leftover_helper.py), found by ``check``, removed by
``clean --apply``, nothing left for a second clean, and brought back by ``rollback``.

The host is compared before and after each test: its interfaces (``ip -o link``), rules
(``iptables-save``, ``ip6tables-save``, ``nft list ruleset``), mounts
(``/proc/self/mountinfo``) and cgroups must be identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HELPER = Path(__file__).with_name("leftover_helper.py")
SRC = Path(__file__).resolve().parents[2] / "src"
TOOLS = (
    "ip",
    "iptables-legacy-save",
    "iptables-nft-save",
    "ip6tables-nft-save",
    "nft",
    "openssl",
    "unshare",
)

pytestmark = [pytest.mark.root]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: namespaces, mounts, interfaces and rules"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"needs {', '.join(missing)} (scripts/install-system-deps)"
    if not os.path.exists("/usr/lib/cni/bridge"):
        return "needs Debian's containernetworking-plugins (scripts/install-system-deps)"
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--net",
            "--propagation",
            "private",
            "ip",
            "link",
            "add",
            "probe0",
            "type",
            "bridge",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot make a bridge in a network namespace: {probe.stderr.decode().strip()}"
    return None


def _out(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else f"<{argv[0]} failed: {done.stderr.strip()}>"


def host_state() -> dict[str, Any]:
    """The host's interfaces, rules, mounts and cgroups, as the tests must leave them."""
    cgroups = sorted(top for top, _, _ in os.walk("/sys/fs/cgroup"))
    rules = {
        tool: "\n".join(line for line in _out(tool).splitlines() if not line.startswith("#"))
        for tool in ("iptables-save", "ip6tables-save", "iptables-legacy-save")
    }
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        mounts = f.read()
    return {
        "links": _out("ip", "-o", "link"),
        "addrs": _out("ip", "-o", "addr"),
        "rules": rules,
        "nft": _out("nft", "list", "ruleset"),
        "mounts": mounts,
        "cgroups": cgroups,
    }


@pytest.fixture
def run_scenario(tmp_path: Path) -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    before = host_state()

    def run(scenario: str) -> dict[str, Any]:
        work = tmp_path / scenario
        work.mkdir()
        env = dict(os.environ, PYTHONPATH=str(SRC))
        env.pop("NODEDOCTOR_CGROUP_ROOT", None)
        proc = subprocess.run(
            [
                "unshare",
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                sys.executable,
                str(HELPER),
                scenario,
                str(work),
            ],
            capture_output=True,
            timeout=240,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr.decode()[-4000:]
        report: dict[str, Any] = json.loads(proc.stdout)
        return report

    yield run
    after = host_state()
    for key in ("links", "addrs", "rules", "nft", "mounts"):
        assert after[key] == before[key], f"the host's {key} changed"
    assert set(before["cgroups"]) <= set(after["cgroups"]), "a host cgroup was removed"


def _findings(report: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in report[1]["findings"]:
        out.setdefault(f["rule"], []).append(f)
    return out


def _steps(plan: Any) -> dict[str, set[str]]:
    steps: dict[str, set[str]] = {}
    for s in plan["plan"]["steps"]:
        steps.setdefault(s["action"], set()).add(s["path"])
    return steps


def _nft_tables(ruleset: str) -> list[str]:
    """The tables of ``nft list ruleset`` in name order (a table made again comes last),
    without packet counts (they move with every packet)."""
    blocks: list[str] = []
    current: list[str] = []
    for raw in ruleset.splitlines():
        line = re.sub(r"counter packets \d+ bytes \d+", "counter", raw)
        if line.startswith("table ") and current:
            blocks.append("\n".join(current))
            current = []
        if not line.startswith("# Warning"):
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return sorted(blocks)


def _no_comment(text: str) -> list[str]:
    """A dump without comments and packet counters (they move with every packet)."""
    return [
        re.sub(r"\[\d+:\d+\]$", "[0:0]", line)
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


def test_kubeadm_teardown_found_cleaned_and_rolled_back(run_scenario: Any) -> None:
    r = run_scenario("kubeadm")
    assert r["bridge_add"]["code"] == 0, r["bridge_add"]
    pod = r["pod"]

    found = _findings(r["check"])
    assert set(found) >= {
        "orphaned-pod-dirs",
        "cni-config-left",
        "cni-network-left",
        "netfilter-rules-left",
        "kubeadm-init-blocked",
        "kubelet-mounts-left",
        "foreign-cgroup-mount",
    }
    assert all(f["severity"] == "warning" for fs in found.values() for f in fs)
    network = json.dumps(found["cni-network-left"])
    for name in ("cni0", "flannel.1", "vxlan.calico", "cali1f2e3d4c5b6", "cilium_host"):
        assert name in network
    for kept in ("docker0", "vethkeep0"):
        assert kept not in network
    assert "networks/podman" not in network
    rules = json.dumps(found["netfilter-rules-left"])
    assert "KUBE-SERVICES" in rules
    assert "cali-FORWARD" in rules
    assert "FLANNEL-POSTRTG" in rules
    assert "table ip kube-proxy" in rules
    assert "DOCKER-USER" not in rules
    blocked = json.dumps(found["kubeadm-init-blocked"])
    assert "[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty" in blocked
    assert "FileAvailable--etc-kubernetes-manifests-etcd.yaml" in blocked
    assert "FileAvailable--etc-kubernetes-pki-ca.crt" in blocked
    configs = json.dumps(found["cni-config-left"])
    assert "10-calico.conflist" in configs
    assert "flannel" in configs

    steps = _steps(r["plan"][1])
    moves = steps["move"]
    assert {
        pod,
        "/etc/cni/net.d/10-calico.conflist",
        "/etc/cni/net.d/calico-kubeconfig",
        "/etc/cni/net.d/10-flannel.conflist",
        "/etc/kubernetes/manifests/etcd.yaml",
        "/etc/kubernetes/pki",
        "/var/lib/etcd/member",
        "/var/lib/calico",
        "/run/calico",
        "/run/flannel",
        "/var/lib/cni/networks/cbr0",
        "/var/lib/cni/flannel",
    } <= moves
    assert not any("podman" in m for m in moves), "podman's IPAM reservation is not ours"
    assert "/var/lib/cni" not in moves, "/var/lib/cni holds podman's network too"
    assert {
        "cni0",
        "flannel.1",
        "vxlan.calico",
        "cali1f2e3d4c5b6",
        "cilium_host",
        "cilium_net",
    } <= steps["delete-link"]
    assert not steps["delete-link"] & {"docker0", "vethkeep0", "vethkeep1", "lo"}
    tables = {
        (s["command"], s["table"])
        for s in r["plan"][1]["plan"]["steps"]
        if s["action"] == "remove-chains"
    }
    assert tables == {
        ("iptables-legacy-save", "filter"),
        ("iptables-legacy-save", "nat"),
        ("iptables-save", "filter"),
        ("iptables-save", "nat"),
        ("iptables-save", "raw"),
        ("iptables-save", "mangle"),
        ("ip6tables-save", "filter"),
    }, "each backend's tables: legacy kube-proxy and Flannel, nf_tables Calico, IPv6"
    assert steps["delete-table"] == {"nft table ip kube-proxy"}

    code, applied, err = r["apply"]
    assert code == 0, (err, applied.get("outcomes"))
    assert applied["complete"] is True
    assert applied["journal"].startswith("clean-")
    statuses = {o["path"]: o["status"] for o in applied["outcomes"]}
    assert statuses[pod] == "done"
    assert all(s in ("done", "detached", "gone") for s in statuses.values()), statuses
    assert applied["left"]["steps"] == []

    after = r["after"]
    for path in (
        pod,
        "/etc/cni/net.d/10-calico.conflist",
        "/etc/kubernetes/pki/ca.crt",
        "/var/lib/etcd/member",
        "/run/flannel/subnet.env",
        "/var/lib/cni/networks/cbr0/10.244.1.2",
    ):
        assert path not in after["tree"], path
    assert any("/var/lib/cni/networks/podman/" in p for p in after["tree"]), "podman's kept"
    assert "/var/lib/etcd" in after["tree"], "the etcd directory stays, emptied"
    assert set(after["links"]) == {"lo", "docker0", "vethkeep0", "vethkeep1"}
    for tool in ("iptables-legacy-save", "iptables-nft-save", "ip6tables-nft-save"):
        text = after["rules"][tool]
        for prefix in ("KUBE-", "cali-", "FLANNEL-", "CILIUM_"):
            assert prefix not in text, (tool, prefix)
    assert "DOCKER-USER" in after["rules"]["iptables-legacy-save"]
    assert "table inet filter" in after["rules"]["nft"]
    assert "kube-proxy" not in after["rules"]["nft"]
    assert pod + "/volumes/kubernetes.io~projected/kube-api-access-7xk2p" not in after["mounts"]
    assert _findings(r["check_after"]) == {}, r["check_after"]

    code, again, _ = r["again"]
    assert code == 0
    assert again["plan"]["steps"] == [], "a second clean has nothing to do"

    listed = r["journal"][1]
    assert any(e.get("id") == applied["journal"] for e in listed)

    code, rolled, err = r["rollback"]
    assert code == 0, (err, rolled)
    assert rolled["complete"] is True
    restored, before = r["restored"], r["before"]
    sockets = {p for p, d in before["tree"].items() if d.startswith("140")}
    assert sockets == {r["state"]["calico-run"] + "/bird.ctl"}
    mountpoint_dirs = {
        r["state"]["calico-run"] + "/cgroup",
        pod + "/volumes/kubernetes.io~projected/kube-api-access-7xk2p",
    }
    expected = {p: d for p, d in before["tree"].items() if p not in sockets}
    got = dict(restored["tree"].items())
    for p in mountpoint_dirs:  # mount points: the directory is back, the mount is not
        expected.pop(p, None)
        got.pop(p, None)
    assert got == expected
    for tool in ("iptables-legacy-save", "iptables-nft-save", "ip6tables-nft-save"):
        assert _no_comment(restored["rules"][tool]) == _no_comment(before["rules"][tool]), tool
    assert _nft_tables(restored["rules"]["nft"]) == _nft_tables(before["rules"]["nft"])
    assert set(restored["links"]) == {"lo", "docker0", "vethkeep0", "vethkeep1"}, (
        "interfaces are not re-created"
    )
    assert r["rollback_again"][0] == 2, "a rolled-back entry is not rolled back twice"


def test_microk8s_layout_found_and_cleaned(run_scenario: Any) -> None:
    r = run_scenario("microk8s")
    found = _findings(r["check"])
    assert {"orphaned-pod-dirs", "cni-config-left", "cni-network-left"} <= set(found)
    assert "kubeadm-init-blocked" not in found
    configs = json.dumps(found["cni-config-left"])
    assert "/var/snap/microk8s/current/args/cni-network/10-calico.conflist" in configs
    steps = _steps(r["plan"][1])
    assert r["pod"] in steps["move"]
    assert "/var/snap/microk8s/current/var/lib/calico" in steps["move"]
    assert "/var/snap/microk8s/common/run/flannel" in steps["move"]
    code, applied, err = r["apply"]
    assert code == 0, (err, applied.get("outcomes"))
    assert applied["complete"] is True
    assert r["again"][1]["plan"]["steps"] == []
    assert r["rollback"][1]["complete"] is True
    assert r["pod"] + "/etc-hosts" in r["restored"]["tree"]


def test_running_kubelet_only_the_bridge_with_an_old_address(run_scenario: Any) -> None:
    r = run_scenario("running")
    assert r["old_add"]["code"] == 0, r["old_add"]
    found = _findings(r["check"])
    # Under a running kubelet the CNI's files, state and rules are its own.
    assert set(found) == {"cni-network-left"}, found
    (finding,) = found["cni-network-left"]
    assert finding["severity"] == "error"
    evidence = json.dumps(finding["evidence"])
    assert "10.244.9.1/24" in evidence
    assert "FLANNEL_SUBNET=10.244.1.1/24" in evidence
    # The bridge plugin itself refuses the next pod, with the runbook's symptom.
    assert r["new_add"]["code"] != 0
    assert (
        '\\"cni0\\" already has an IP address different from 10.244.1.1/24' in (r["new_add"]["out"])
    )
    assert r["plan"][1]["plan"]["steps"] == [] or all(
        s["action"] in ("unmount", "rmdir") for s in r["plan"][1]["plan"]["steps"]
    )
    # The fix the finding names works: the plugin makes cni0 again, and nothing is found.
    assert _findings(r["check_fixed"]) == {}
    assert r["fixed_add"]["code"] == 0, r["fixed_add"]
    assert _findings(r["check_healthy"]) == {}
