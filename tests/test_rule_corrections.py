"""Facts the rules state, as checked against upstream source (issue 11):
- cri-dockerd implements the CRI RuntimeConfig call from v0.3.17 (Mirantis/cri-dockerd
  core/docker_service.go, d3c4a89f, the release/0.3 backport #425 of 680cec44);
- on cgroup v2 the kubelet requires of kubepods only {cpu, cpuset, memory, hugetlb, pids} that the
  root gives (k/k pkg/kubelet/cm/cgroup_manager_linux.go getSupportedUnifiedControllers);
- runc 1.1 and newer refuse the systemd driver without systemd with "systemd not running on this
  host, cannot use systemd cgroups manager" (opencontainers/runc libcontainer/cgroups/manager/
  new.go; the older wording was removed in runc 1.1.0).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.docker import DockerFacts
from nodedoctor.facts.kubepods import kubepods_facts
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence
from nodedoctor.rules import all_rules
from nodedoctor.sources.commands import RecordedCommands
from nodedoctor.sources.root import Root, directory_root
from tests.helpers import ROOTS

NODES = Path(__file__).parent / "nodes"


@pytest.mark.parametrize(
    ("deb_version", "implements"),
    [
        # Mirantis's packages: epoch 0, "<version>~3-0~<distro>" (packaging/deb/gen-deb-ver).
        ("0:0.3.16~3-0~ubuntu-jammy", False),
        ("0:0.3.17~3-0~ubuntu-jammy", True),
        ("0:0.3.24~3-0~debian-bookworm", True),
        ("0:0.4.0~3-0~ubuntu-jammy", True),
    ],
)
def test_cri_dockerd_answers_runtime_config_from_0_3_17(deb_version: str, implements: bool) -> None:
    version = Version.parse(deb_version)
    assert version is not None
    docker = DockerFacts(
        present=True,
        version=None,
        cri_dockerd=Sourced(version, Evidence("/var/lib/dpkg/status", deb_version)),
        cgroup_driver=None,
    )
    assert docker.implements_runtime_config is implements


def test_kubepods_is_not_asked_for_a_controller_the_kernel_lacks() -> None:
    """Raspberry Pi OS kernels give no hugetlb: the k3s node's kubepods without it is valid."""
    root = NODES / "k3s-rpios-bookworm/root"
    facts = Facts(directory_root(str(root)))
    kp = facts.get(kubepods_facts)
    assert "hugetlb" not in (root / "sys/fs/cgroup/cgroup.controllers").read_text().split()
    assert kp.required == ("cpu", "cpuset", "memory", "pids")
    report = engine.run(facts, all_rules())
    judged = {"kubepods-invalid", "cgroup-controller-not-delegated"}
    assert not judged & {f.rule for f in report.findings}
    assert not judged & {s.rule for s in report.skipped}


def test_the_systemd_driver_without_systemd_quotes_runc_1_1(tmp_path: Path) -> None:
    """A kubeadm node whose PID 1 is not systemd (WSL 2 without systemd runs Microsoft's
    ``init``), as a bundle records it: both drivers are systemd."""
    root = tmp_path / "root"
    shutil.copytree(ROOTS / "kubeadm-healthy-v2/root", root, symlinks=True)
    (root / "proc/1").mkdir(parents=True)
    (root / "proc/1/comm").write_text("init\n")
    facts = Facts(Root(str(root), commands=RecordedCommands({}), running=True))
    report = engine.run(facts, all_rules())
    (f,) = [f for f in report.findings if f.rule == "cgroup-driver-not-systemd"]
    assert f.severity.value == "error"
    assert "PID 1 is not systemd" in f.title
    assert "systemd not running on this host, cannot use systemd cgroups manager" in f.impact
    assert "systemd cgroup flag passed" not in f.impact
