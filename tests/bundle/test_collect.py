"""``nodedoctor collect``: the bundle is a root that diagnoses like the node it came from,
and no credential planted on the node ends up in it."""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from nodedoctor import collect as collect_mod
from nodedoctor import engine
from nodedoctor.cli import main
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.facts.processes import processes
from nodedoctor.model import Report
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import MANIFEST, MANIFEST_SCHEMA, extract_bundle, open_bundle
from nodedoctor.sources.root import Root, directory_root, live_root

#: Planted credentials: none of these strings may appear anywhere in the bundle.
SECRETS = {
    "containerd-password": "s3cr3t-registry-pass",
    "containerd-auth": "dXNlcjpzM2NyM3Q=",
    "containerd-identitytoken": "idtok-0a1b2c3d4e5f",
    "containerd-inline": "inline-pass-77",
    "k3s-token": "K10abc::server:deadbeefcafe",
    "k3s-agent-token": "agent-tok-99887766",
    "bootstrap-token": "abcdef.0123456789abcdef",
    "kubeconfig-key": "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=",
    "pki-key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "docker-auths": "ZG9ja2VyOmh1bnRlcjI=",
    "cmdline-token": "cmdline-token-4242",
    "flag-token": "flag-token-1234",
    "pem-body": "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
    "bearer": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.sig",
    "kubeadm-certificate-key": "e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204",
    "kubeadm-join-token": "7q2c1k.h2v8d0x9r3m5n1p4",
}

KUBEADM_CONFIG = f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
controlPlane:
  certificateKey: {SECRETS["kubeadm-certificate-key"]}
discovery:
  bootstrapToken:
    apiServerEndpoint: 10.0.0.10:6443
    token: "{SECRETS["kubeadm-join-token"]}"
"""

CONTAINERD_CONFIG = f"""version = 2

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".registry.configs."registry.example.com".auth]
  username = "ci"
  password = "{SECRETS["containerd-password"]}"
  auth = "{SECRETS["containerd-auth"]}"
  identitytoken = "{SECRETS["containerd-identitytoken"]}"

[plugins."io.containerd.grpc.v1.cri".registry.configs."other.example.com"]
  auth = {{ username = "u", password = "{SECRETS["containerd-inline"]}" }}
"""

K3S_CONFIG = f"""write-kubeconfig-mode: "0644"
token: {SECRETS["k3s-token"]}
agent-token: "{SECRETS["k3s-agent-token"]}"
kubelet-arg:
  - "cgroup-driver=systemd"
"""

KUBEADM_DROPIN = f"""[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf"
Environment="JOIN=--discovery-token {SECRETS["bootstrap-token"]} --token={SECRETS["flag-token"]}"
Environment="AUTH=Authorization: Bearer {SECRETS["bearer"]}"
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS
"""

KUBECONFIG = f"""apiVersion: v1
kind: Config
users:
- name: kubernetes-admin
  user:
    client-key-data: {SECRETS["kubeconfig-key"]}
"""

PEM = f"""-----BEGIN RSA PRIVATE KEY-----
{SECRETS["pem-body"]}
-----END RSA PRIVATE KEY-----
"""


def _plant(root: Path) -> None:
    files = {
        "etc/containerd/config.toml": CONTAINERD_CONFIG,
        "etc/rancher/k3s/config.yaml": K3S_CONFIG,
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN,
        "etc/kubernetes/admin.conf": KUBECONFIG,
        "etc/kubernetes/kubelet.conf": KUBECONFIG,
        "etc/kubernetes/pki/ca.key": f"{SECRETS['pki-key']}\n",
        "etc/kubernetes/pki/apiserver.crt": f"{SECRETS['pki-key']}\n",
        "root/.docker/config.json": json.dumps(
            {"auths": {"https://index.docker.io/v1/": {"auth": SECRETS["docker-auths"]}}}
        ),
        "etc/docker/daemon.json": json.dumps(
            {
                "exec-opts": ["native.cgroupdriver=systemd"],
                "auths": {"r.io": {"auth": SECRETS["docker-auths"]}},
            }
        ),
        "var/lib/rancher/k3s/server/token": f"{SECRETS['k3s-token']}\n",
        "etc/ssl/private/node.pem": PEM,
        "etc/cloud/cloud.cfg": "datasource_list: [GCE]\nssh_key: |\n  "
        + PEM.replace("\n", "\n  ")
        + "\n",
        "etc/kubernetes/kubeadm-join.yaml": KUBEADM_CONFIG,
        "etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
        "proc/sys/kernel/hostname": "node-1\n",
        "proc/4242/comm": "k3s-server\n",
        "proc/4242/cmdline": f"/usr/local/bin/k3s\0server\0--token\0{SECRETS['cmdline-token']}\0",
        "proc/1/comm": "systemd\n",
        # A recorded node (an extracted bundle): its /proc tells what runs.
        MANIFEST: json.dumps({"schema": MANIFEST_SCHEMA, "files": []}),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _all_bytes(bundle: Path) -> bytes:
    """Every byte of the archive, decompressed, headers and names included."""
    return gzip.decompress(bundle.read_bytes())


def test_no_planted_secret_leaves_the_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = tmp_path / "node"
    _plant(node)
    # Make collect consider every planted file, as if rules read them all.
    extra = (
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/pki/*",
        "/root/.docker/config.json",
        "/var/lib/rancher/k3s/server/token",
        "/etc/ssl/private/node.pem",
        "/etc/kubernetes/kubeadm-join.yaml",
    )
    monkeypatch.setattr(collect_mod, "ALWAYS", collect_mod.ALWAYS + extra)
    from nodedoctor.sources.bundle import bundle_directory_root

    root = bundle_directory_root(str(node))
    assert root is not None
    assert root.running
    result = collect(root, str(tmp_path / "b.tar.gz"))
    raw = _all_bytes(Path(result.path))
    for what, secret in SECRETS.items():
        assert secret.encode() not in raw, f"{what} leaked into the bundle"
    withheld = {p for p, _ in result.withheld}
    assert {
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/apiserver.crt",
        "/root/.docker/config.json",
        "/var/lib/rancher/k3s/server/token",
        "/etc/ssl/private/node.pem",
    } <= withheld
    # Redaction keeps the files usable: same line count, values replaced in place.
    with open_bundle(result.path) as bundle:
        toml = bundle.read_text("/etc/containerd/config.toml")
        assert toml is not None
        assert len(toml.splitlines()) == len(CONTAINERD_CONFIG.splitlines())
        assert 'password = "<redacted>"' in toml
        assert "SystemdCgroup = true" in toml
        assert 'username = "ci"' in toml
        kubeadm = bundle.read_text("/etc/kubernetes/kubeadm-join.yaml")
        assert kubeadm is not None
        assert "apiServerEndpoint: 10.0.0.10:6443" in kubeadm
        k3s = bundle.read_text("/etc/rancher/k3s/config.yaml")
        assert k3s is not None
        assert "cgroup-driver=systemd" in k3s
        assert "token: <redacted>" in k3s
        daemon = bundle.read_text("/etc/docker/daemon.json")
        assert daemon is not None
        assert "native.cgroupdriver=systemd" in json.loads(daemon)["exec-opts"][0]
        running = Facts(bundle).get(processes)
        assert [p.comm for p in running.named("k3s-server")] == ["k3s-server"]
        assert "--token" in running.named("k3s-server")[0].argv
        manifest = bundle.manifest
    assert manifest["schema"] == MANIFEST_SCHEMA
    assert manifest["hostname"] == "node-1"
    assert "/etc/containerd/config.toml" in manifest["files"]
    assert {"path": "/etc/kubernetes/admin.conf", "reason": "kubeconfig (cluster credentials)"} in (
        manifest["withheld"]
    )


def _comparable(report: Report) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "rule": f.rule,
                "severity": f.severity.value,
                "title": f.title,
                "message": f.message,
                "evidence": [e.to_json() for e in f.evidence],
            }
            for f in report.findings
        ),
        key=lambda d: json.dumps(d, sort_keys=True),
    )


def _check(root: Root) -> Report:
    return engine.run(Facts(root), list(all_rules()))


def test_bundle_of_this_machine_diagnoses_like_the_live_check(tmp_path: Path) -> None:
    live = _check(live_root())
    result = collect(live_root(), str(tmp_path / "this-node.tar.gz"))
    with open_bundle(result.path) as bundle:
        offline = _check(bundle)
        base = bundle.base
    assert _comparable(offline) == _comparable(live)
    assert set(offline.passed) == set(live.passed)
    assert {s.rule for s in offline.skipped} == {s.rule for s in live.skipped}
    assert offline.node["hostname"] == live.node["hostname"]
    assert offline.node["kernel"] == live.node["kernel"]
    assert offline.node["arch"] == live.node["arch"]
    assert offline.node["cgroup"] == live.node["cgroup"]
    assert not Path(base).exists(), "the extracted bundle was not removed"


def test_extracted_bundle_as_root_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.tar.gz"
    assert main(["collect", "-o", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bundle"] == str(out)
    assert "/proc/self/mountinfo" in summary["files"]
    assert (out.stat().st_mode & 0o777) == 0o600
    extracted = tmp_path / "x"
    extracted.mkdir()
    extract_bundle(str(out), str(extracted))
    main(["check", "--bundle", str(out), "--format", "json"])
    from_bundle = json.loads(capsys.readouterr().out)
    main(["check", "--root", str(extracted), "--format", "json"])
    from_dir = json.loads(capsys.readouterr().out)
    assert from_bundle["findings"] == from_dir["findings"]
    assert from_bundle["node"]["arch"] == from_dir["node"]["arch"] is not None


def test_collect_of_an_offline_root_runs_nothing(tmp_path: Path) -> None:
    node = tmp_path / "node"
    (node / "etc").mkdir(parents=True)
    (node / "etc/os-release").write_text("ID=rocky\nVERSION_ID=9.3\n", encoding="utf-8")
    result = collect(directory_root(str(node)), str(tmp_path / "b.tar.gz"))
    assert result.commands == ()
    assert "/etc/os-release" in result.files


def test_collection_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kubepods walk stops at its bound, and past the size budget files are listed as
    left out instead of written."""
    node = tmp_path / "node"
    kubepods = node / "sys/fs/cgroup/kubepods/besteffort"
    for i in range(60):
        pod = kubepods / f"pod{i:08d}-0000-4000-8000-000000000000"
        pod.mkdir(parents=True)
        (pod / "cgroup.procs").write_text("", encoding="utf-8")
    (node / "etc").mkdir()
    (node / "etc/os-release").write_text("ID=debian\n" + "#" * 5000 + "\n", encoding="utf-8")
    (node / "var/lib/dpkg").mkdir(parents=True)
    (node / "var/lib/dpkg/status").write_text("Package: x\n" * 1000, encoding="utf-8")
    monkeypatch.setattr(collect_mod, "MAX_CGROUP_DIRS", 20)
    monkeypatch.setattr(collect_mod, "TOTAL_LIMIT", 8000)
    result = collect(directory_root(str(node)), str(tmp_path / "b.tar.gz"))
    with tarfile.open(result.path) as tar:
        names = tar.getnames()
    walked = [n for n in names if n.startswith("sys/fs/cgroup/kubepods/besteffort/pod")]
    assert 0 < len({n.split("/")[5] for n in walked}) <= 20
    assert "/var/lib/dpkg/status" in result.left_out
    assert "/etc/os-release" in result.files
    with open_bundle(result.path) as bundle:
        assert bundle.manifest["left_out"] == list(result.left_out)


@pytest.mark.root
def test_bundle_tells_that_the_kubelet_was_running(tmp_path: Path) -> None:
    """Collected in a private PID namespace where a stand-in kubelet (a copy of sleep, whose
    comm is its file name) runs: the bundle answers "is the kubelet running" like the node."""
    import os
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private PID namespace")
    kubelet = tmp_path / "kubelet"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", kubelet)
    out = tmp_path / "b.tar.gz"
    script = (
        f"{kubelet} 300 & KPID=$!; trap 'kill $KPID' EXIT; "
        f"{sys.executable} -m nodedoctor collect -o {out}"
    )
    proc = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    with open_bundle(str(out)) as bundle:
        running = Facts(bundle).get(processes)
        assert running.known
        found = running.kubelet()
        assert found is not None
        assert found.comm == "kubelet"
        assert found.argv == (str(kubelet), "300")
    with open_bundle(str(out)) as bundle:
        from nodedoctor.facts.teardown import kubelet_state

        state = Facts(bundle).get(kubelet_state)
        assert state.running is True
