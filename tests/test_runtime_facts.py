"""Which runtime the kubelet talks to, whether its socket answers, the report's runtime block,
and the evidence the runtime scenarios must show."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from nodedoctor.cli import main
from nodedoctor.facts import Facts
from nodedoctor.facts.runtime import runtime_facts, socket_answers
from nodedoctor.sources.commands import CommandResult, CommandRunner
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS, check_root


def test_socket_answers_on_a_real_listener(tmp_path: Path) -> None:
    path = tmp_path / "rt.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    try:
        assert socket_answers(str(path)) is True
    finally:
        server.close()
    assert socket_answers(str(path)) is False  # the file is left, nobody listens
    assert socket_answers(str(tmp_path / "absent.sock")) is False


@pytest.mark.parametrize(
    ("scenario", "name", "driver", "endpoint"),
    [
        (
            "kubeadm-ubuntu22-containerd-default",
            "containerd",
            "cgroupfs",
            "unix:///var/run/containerd/containerd.sock",
        ),
        ("crio-cgroupfs-wrong-conmon", "cri-o", "cgroupfs", "unix:///var/run/crio/crio.sock"),
        (
            "k3s-default-layout",
            "containerd",
            "systemd",
            "unix:///run/k3s/containerd/containerd.sock",
        ),
        (
            "microk8s-default-layout",
            "containerd",
            "cgroupfs",
            "/var/snap/microk8s/common/run/containerd.sock",  # as its args file writes it
        ),
    ],
)
def test_runtime_of_scenarios(scenario: str, name: str, driver: str, endpoint: str) -> None:
    facts = Facts(directory_root(str(ROOTS / scenario / "root")))
    r = facts.get(runtime_facts)
    assert (r.name, r.endpoint.value if r.endpoint else None) == (name, endpoint)
    assert r.cgroup_driver is not None
    assert r.cgroup_driver.value == driver
    assert r.socket_answers is None  # offline: nothing is probed


def test_report_has_the_runtime_block(capsys: pytest.CaptureFixture[str]) -> None:
    root = ROOTS / "kubeadm-ubuntu22-containerd-default" / "root"
    main(["check", "--root", str(root), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["node"]["runtime"] == {
        "name": "containerd",
        "version": "1.6.20~ds1-1+deb12u3",
        "cgroup_driver": "cgroupfs",
        "endpoint": "unix:///var/run/containerd/containerd.sock",
    }
    [finding] = [f for f in report["findings"] if f["rule"] == "cgroup-driver-mismatch"]
    assert {
        "source": "/etc/containerd/config.toml",
        "line": 125,
        "text": "SystemdCgroup = false",
    } in (finding["evidence"])
    assert finding["fix"]["files"] == ["/etc/containerd/config.toml"]
    assert finding["fix"]["restart"] == ["containerd", "kubelet"]
    assert "drain" in finding["fix"]["summary"]


def test_docker_containerd_io_evidence() -> None:
    report = check_root(ROOTS / "docker-containerd-io" / "root")
    [cri] = [f for f in report.findings if f.rule == "containerd-cri-disabled"]
    assert (cri.evidence[0].source, cri.evidence[0].line) == ("/etc/containerd/config.toml", 1)
    assert cri.evidence[0].text == 'disabled_plugins = ["cri"]'


def test_confd_dropin_evidence_names_the_dropin() -> None:
    facts = Facts(directory_root(str(ROOTS / "containerd-2.1-confd-dropin" / "root")))
    r = facts.get(runtime_facts)
    assert r.cgroup_driver is not None
    ev = r.cgroup_driver.evidence
    assert (ev.source, ev.line, ev.text) == (
        "/etc/containerd/conf.d/10-systemd-cgroup.toml",
        4,
        "SystemdCgroup = true",
    )


def test_profile_forced_to_k3s_reads_k3s_socket() -> None:
    report = check_root(ROOTS / "kubeadm-healthy-v2" / "root", profile="k3s")
    assert report.node["runtime"]["endpoint"] == "unix:///run/k3s/containerd/containerd.sock"


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


def test_systemd_driver_without_systemd_as_pid1_is_an_error(tmp_path: Path) -> None:
    from nodedoctor import engine
    from nodedoctor.rules import all_rules
    from nodedoctor.sources.root import Root

    root = _copy(ROOTS / "kubeadm-healthy-v2" / "root", tmp_path / "root")
    (root / "proc/1").mkdir(parents=True)
    (root / "proc/1/comm").write_text("tini\n")
    facts = Facts(Root(str(root), running=True))
    report = engine.run(
        facts, engine.select_rules(all_rules(), only=("cgroup-driver-not-systemd",))
    )
    [finding] = report.findings
    assert finding.severity.value == "error"
    assert finding.evidence[0].source == "/proc/1/comm"
    assert {e.text for e in finding.evidence} >= {"tini", "cgroupDriver: systemd"}


def test_cgroupfs_under_systemd_on_v2_is_a_warning(tmp_path: Path) -> None:
    from nodedoctor import engine
    from nodedoctor.rules import all_rules
    from nodedoctor.sources.root import Root

    root = _copy(ROOTS / "kubeadm-ubuntu22-containerd-default" / "root", tmp_path / "root")
    config = root / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace("cgroupDriver: systemd", "cgroupDriver: cgroupfs"))
    (root / "proc/1").mkdir(parents=True)
    (root / "proc/1/comm").write_text("systemd\n")
    facts = Facts(Root(str(root), running=True))
    report = engine.run(facts, engine.select_rules(all_rules()))
    assert [(f.rule, f.severity.value) for f in report.findings] == [
        ("cgroup-driver-not-systemd", "warning")
    ]


def test_kubespray_fix_changes_the_kubelet_side() -> None:
    report = check_root(ROOTS / "kubeadm-ubuntu22-containerd-default" / "root", profile="kubespray")
    [finding] = [f for f in report.findings if f.rule == "cgroup-driver-mismatch"]
    assert finding.fix is not None
    assert "cgroupfs" in finding.fix.summary
    assert "kubespray" in finding.fix.summary
    assert finding.fix.files == ("/var/lib/kubelet/config.yaml",)


def test_malformed_daemon_json_is_a_parse_error(tmp_path: Path) -> None:
    root = _copy(ROOTS / "kubeadm-healthy-v2" / "root", tmp_path / "root")
    (root / "etc/docker").mkdir()
    (root / "etc/docker/daemon.json").write_text(
        '{\n  "exec-opts": ["native.cgroupdriver=systemd"]\n  "x": 1\n}\n'
    )
    report = check_root(root)
    [finding] = [f for f in report.findings if f.rule == "parse-error"]
    assert (finding.evidence[0].source, finding.evidence[0].line) == ("/etc/docker/daemon.json", 3)


def test_edited_microk8s_rendered_file_is_reported(tmp_path: Path) -> None:
    root = _copy(ROOTS / "microk8s-default-layout" / "root", tmp_path / "root")
    rendered = root / "var/snap/microk8s/6532/args/containerd.toml"
    rendered.write_text(
        rendered.read_text()
        + '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "  SystemdCgroup = true\n"
    )
    report = check_root(root)
    [finding] = [f for f in report.findings if f.rule == "containerd-config-ignored"]
    assert finding.severity.value == "warning"
    assert finding.evidence[0].source == "/var/snap/microk8s/current/args/containerd.toml"
    assert finding.fix is not None
    assert finding.fix.files == ("/var/snap/microk8s/current/args/containerd-template.toml",)


def test_edited_k3s_rendered_file_is_reported(tmp_path: Path) -> None:
    root = _copy(ROOTS / "k3s-default-layout" / "root", tmp_path / "root")
    rendered = root / "var/lib/rancher/k3s/agent/etc/containerd/config.toml"
    rendered.write_text(
        rendered.read_text().replace("SystemdCgroup = true", "SystemdCgroup = false")
    )
    report = check_root(root)
    assert [(f.rule, f.severity.value) for f in report.findings] == [
        ("containerd-config-ignored", "warning")
    ]
    assert report.node["runtime"]["cgroup_driver"] == "systemd"  # what k3s will write


def test_k3s_mismatch_fix_never_flips_one_side(tmp_path: Path) -> None:
    root = _copy(ROOTS / "k3s-default-layout" / "root", tmp_path / "root")
    config = root / "etc/rancher/k3s/config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('kubelet-arg:\n  - "cgroup-driver=cgroupfs"\n')
    (root / "proc/1").mkdir(parents=True)
    (root / "proc/1/comm").write_text("systemd\n")

    class K3sVersion(CommandRunner):
        def run(self, name: str) -> CommandResult | None:
            if name != "k3s-version":
                return None
            out = "k3s version v1.30.6+k3s1 (1829eaae)\ngo version go1.22.8\n"
            return CommandResult(name, ("k3s", "--version"), 0, out)

    from nodedoctor import engine
    from nodedoctor.rules import all_rules
    from nodedoctor.sources.root import Root

    facts = Facts(Root(str(root), running=True, commands=K3sVersion()))
    report = engine.run(facts, engine.select_rules(all_rules()))
    [finding] = [f for f in report.findings if f.rule == "cgroup-driver-mismatch"]
    assert finding.fix is not None
    assert not finding.fix.available
    assert "rather than flipping one side" in finding.fix.summary
    assert finding.fix.restart == ("k3s",)
