"""Where kubepods is, with the kubelet's naming for both drivers; pod cgroups; lazy reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode
from nodedoctor.facts.kubepods import (
    cgroup_path,
    kubepods_facts,
    pod_cgroup_entries,
    pod_cgroup_name,
    root_name,
)
from nodedoctor.sources.root import Root, directory_root
from tests.helpers import ROOTS

ALL = "cpuset cpu io memory hugetlb pids rdma misc\n"


@pytest.mark.parametrize(
    ("qos", "driver", "path"),
    [
        ("guaranteed", "cgroupfs", "/kubepods/pod6f1c2b3a-9d4e"),
        ("burstable", "cgroupfs", "/kubepods/burstable/pod6f1c2b3a-9d4e"),
        ("besteffort", "cgroupfs", "/kubepods/besteffort/pod6f1c2b3a-9d4e"),
        ("guaranteed", "systemd", "/kubepods.slice/kubepods-pod6f1c2b3a_9d4e.slice"),
        (
            "burstable",
            "systemd",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6f1c2b3a_9d4e.slice",
        ),
        (
            "besteffort",
            "systemd",
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6f1c2b3a_9d4e.slice",
        ),
    ],
)
def test_pod_naming_matches_the_kubelet(qos: str, driver: str, path: str) -> None:
    assert cgroup_path(pod_cgroup_name(qos, "6f1c2b3a-9d4e"), driver) == path


def test_cgroup_root_naming() -> None:
    assert cgroup_path((*root_name("/kubelet", "cgroupfs"), "kubepods"), "cgroupfs") == (
        "/kubelet/kubepods"
    )
    assert cgroup_path((*root_name("/k8s.slice", "systemd"), "kubepods"), "systemd") == (
        "/k8s.slice/k8s-kubepods.slice"
    )
    # a dash in a component is escaped, so the slice name splits back unambiguously
    assert root_name("/my_pods.slice", "systemd") == ("my-pods",)


def copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "root"
    shutil.copytree(ROOTS / name / "root", root, symlinks=True)
    return root


def test_microk8s_kubepods_state() -> None:
    kp = Facts(directory_root(str(ROOTS / "microk8s-1.29-power-cut/root"))).get(kubepods_facts)
    assert kp.known
    assert kp.mode is CgroupMode.V2
    assert kp.required == ("cpu", "cpuset", "memory", "hugetlb", "pids")
    kubepods = kp.kubepods
    assert kubepods is not None
    assert kubepods.relative == "/kubepods"
    assert kubepods.v2 is not None
    assert kubepods.v2.exists
    assert kubepods.v2.controllers is not None
    assert "cpuset" not in kubepods.v2.controllers.value
    assert kubepods.v2.parent_subtree_control is not None
    assert kubepods.v2.parent_subtree_control.evidence.source == (
        "/sys/fs/cgroup/cgroup.subtree_control"
    )


def test_v1_hierarchies_allowlist() -> None:
    root = ROOTS / "ubuntu-20.04-hybrid-kubelet-1.35/root"
    kp = Facts(directory_root(str(root))).get(kubepods_facts)
    kubepods = kp.kubepods
    assert kubepods is not None
    assert kubepods.v1 is not None
    # blkio, devices, freezer, net_cls, perf_event, rdma are not checked by the kubelet
    assert sorted(kubepods.v1.dirs) == [
        "cpu",
        "cpuacct",
        "cpuset",
        "hugetlb",
        "memory",
        "pids",
        "systemd",
    ]
    assert kubepods.v1.dirs["cpu"] == ("/sys/fs/cgroup/cpu,cpuacct/kubepods.slice", True)
    assert kubepods.exists


def test_custom_cgroup_root(tmp_path: Path) -> None:
    root = copy(tmp_path, "microk8s-1.29-power-cut")
    args = root / "var/snap/microk8s/6532/args/kubelet"
    args.write_text(args.read_text() + "--cgroup-root=/kubelet\n")
    (root / "sys/fs/cgroup/kubelet").mkdir()
    (root / "sys/fs/cgroup/kubelet/cgroup.controllers").write_text(ALL)
    (root / "sys/fs/cgroup/kubelet/cgroup.subtree_control").write_text("cpu memory pids\n")
    kp = Facts(directory_root(str(root))).get(kubepods_facts)
    assert kp.cgroup_root is not None
    assert kp.cgroup_root.relative == "/kubelet"
    kubepods = kp.kubepods
    assert kubepods is not None
    assert kubepods.relative == "/kubelet/kubepods"
    assert kubepods.v2 is not None
    assert not kubepods.v2.exists
    assert kubepods.v2.parent_path == "/sys/fs/cgroup/kubelet"
    assert kubepods.v2.parent_subtree_control is not None
    assert kubepods.v2.parent_subtree_control.value == ("cpu", "memory", "pids")


def test_runtime_chose_the_other_driver(tmp_path: Path) -> None:
    """KubeletCgroupDriverFromCRI on: the tree shows which naming the kubelet really uses."""
    root = copy(tmp_path, "kubeadm-healthy-v2")
    config = root / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace("cgroupDriver: systemd", "cgroupDriver: cgroupfs"))
    kp = Facts(directory_root(str(root))).get(kubepods_facts)
    assert kp.driver_note is not None
    assert "/sys/fs/cgroup/kubepods.slice exists" in kp.driver_note
    assert kp.kubepods is not None
    assert kp.kubepods.relative == "/kubepods.slice"


class CountingRoot(Root):
    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.calls = 0

    def read_bytes(self, path: str, limit: int = 4 * 1024 * 1024) -> tuple[bytes, bool] | None:
        self.calls += 1
        return super().read_bytes(path, limit)

    def listdir(self, path: str) -> list[str] | None:
        self.calls += 1
        return super().listdir(path)

    def is_dir(self, path: str) -> bool:
        self.calls += 1
        return super().is_dir(path)

    def exists(self, path: str) -> bool:
        self.calls += 1
        return super().exists(path)


def test_kubepods_facts_cost_does_not_grow_with_pods(tmp_path: Path) -> None:
    root = copy(tmp_path, "kubeadm-healthy-v2")
    burstable = root / "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice"

    def cost() -> int:
        counting = CountingRoot(str(root))
        Facts(counting).get(kubepods_facts)
        return counting.calls

    before = cost()
    for i in range(500):
        pod = burstable / f"kubepods-burstable-pod{i:08d}_0000_4000_8000_000000000000.slice"
        pod.mkdir()
        (pod / "cgroup.controllers").write_text(ALL)
    assert cost() == before
    dirs = pod_cgroup_entries(Facts(directory_root(str(root))))
    assert len(dirs) == 503
    assert {qos for _, qos, _, _, _ in dirs} == {"guaranteed", "burstable", "besteffort"}
    uid = "00000007-0000-4000-8000-000000000000"
    (mine,) = [d for d in dirs if d[0] == uid]
    assert mine[2] == "systemd"
    assert mine[3].endswith("kubepods-burstable-pod00000007_0000_4000_8000_000000000000.slice")


def test_pod_cgroup_entries_both_drivers_and_v1(tmp_path: Path) -> None:
    root = copy(tmp_path, "ubuntu-20.04-hybrid-kubelet-1.35")
    for hierarchy in ("memory", "cpu,cpuacct"):
        left = root / f"sys/fs/cgroup/{hierarchy}/kubepods/besteffort/pod1234-56"
        left.mkdir(parents=True)
        guaranteed = root / f"sys/fs/cgroup/{hierarchy}/kubepods.slice/kubepods-pod99_aa.slice"
        guaranteed.mkdir(parents=True)
    found = {
        (hierarchy, driver, qos, uid)
        for uid, qos, driver, _, hierarchy in pod_cgroup_entries(Facts(directory_root(str(root))))
    }
    assert found == {
        ("/sys/fs/cgroup/memory", "cgroupfs", "besteffort", "1234-56"),
        ("/sys/fs/cgroup/cpu,cpuacct", "cgroupfs", "besteffort", "1234-56"),
        ("/sys/fs/cgroup/memory", "systemd", "guaranteed", "99-aa"),
        ("/sys/fs/cgroup/cpu,cpuacct", "systemd", "guaranteed", "99-aa"),
    }
