"""The kubelet's start-up, predicted (facts/kubepods/startup.py): the failures it meets in its
own order, what it logs, and that a refused configuration stops it before any cgroup is read."""

from __future__ import annotations

import shutil
from pathlib import Path

from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.kubepods import kubepods_facts
from nodedoctor.facts.kubepods.startup import (
    EnforceWithoutQos,
    KubeletMessage,
    KubepodsRejected,
    ReservedCgroupUnset,
    kubepods_startup,
)
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS


def facts_of(root: Path) -> Facts:
    return Facts(directory_root(str(root)))


def kubeadm_with(tmp_path: Path, *settings: str) -> Path:
    """The healthy kubeadm node with ``settings`` added to its KubeletConfiguration."""
    root = tmp_path / "root"
    shutil.copytree(ROOTS / "kubeadm-healthy-v2" / "root", root, symlinks=True)
    with (root / "var/lib/kubelet/config.yaml").open("a", encoding="utf-8") as config:
        config.writelines(f"{line}\n" for line in settings)
    return root


def test_a_healthy_node_starts() -> None:
    startup = facts_of(ROOTS / "kubeadm-healthy-v2" / "root").get(kubepods_startup)
    assert startup.failures == ()
    assert startup.unknown_reason is None


def test_kubelet_1_29_hides_the_missing_controller_behind_its_old_message() -> None:
    startup = facts_of(ROOTS / "microk8s-1.29-power-cut" / "root").get(kubepods_startup)
    (failure,) = startup.failures
    assert isinstance(failure, KubepodsRejected)
    assert failure.missing == ("cpuset",)
    assert failure.kubepods.exists
    old = "failed to initialize top level QOS containers: root container [kubepods] doesn't exist"
    assert failure.logs == (KubeletMessage(text=f'"Failed to start ContainerManager" err="{old}"'),)


def test_a_refused_configuration_stops_before_any_cgroup(tmp_path: Path) -> None:
    facts = facts_of(kubeadm_with(tmp_path, "cgroupsPerQOS: false"))
    startup = facts.get(kubepods_startup)
    (failure,) = startup.failures
    assert isinstance(failure, EnforceWithoutQos)
    assert failure.enforce_node_allocatable.is_default  # enforceNodeAllocatable: [pods]
    assert "is not supported unless cgroupsPerQOS (--cgroups-per-qos)" in failure.error
    assert kubepods_facts not in facts._cache  # where kubepods is was never worked out


def test_an_unnamed_reserved_cgroup_is_refused_and_the_cgroups_still_checked(
    tmp_path: Path,
) -> None:
    facts = facts_of(kubeadm_with(tmp_path, "enforceNodeAllocatable: [pods, system-reserved]"))
    startup = facts.get(kubepods_startup)
    enforce = facts.get(kubelet_facts).setting("enforceNodeAllocatable")
    assert enforce is not None
    assert startup.failures == (
        ReservedCgroupUnset(
            key="system-reserved",
            setting_name="systemReservedCgroup",
            enforce_node_allocatable=enforce,
            error=(
                "invalid configuration: systemReservedCgroup (--system-reserved-cgroup) must be "
                'specified when "system-reserved" contained in enforceNodeAllocatable '
                "(--enforce-node-allocatable)"
            ),
        ),
    )
    assert startup.unknown_reason is None
    assert kubepods_facts in facts._cache  # the cgroup checks went on
