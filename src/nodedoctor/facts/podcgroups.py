"""Pod cgroups under kubepods, and the pods the kubelet still has on disk.

The kubelet names a pod's cgroup after its UID (research/kubelet-cgroups.md §1.5), with the
default ``cgroupRoot`` ``/``:

- Guaranteed: ``/kubepods/pod<uid>``; systemd ``/kubepods.slice/kubepods-pod<uid_>.slice``
- Burstable: ``/kubepods/burstable/pod<uid>``; systemd
  ``/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice``
- BestEffort: the same with ``besteffort``.

``<uid_>`` is the UID with systemd's escaping (``-`` -> ``_``). On cgroup v2 these sit under
``/sys/fs/cgroup``; on v1 (and hybrid) under each hierarchy (``/sys/fs/cgroup/memory``, ...).
A pod the kubelet knows has a directory ``<root-dir>/pods/<uid>`` (``/var/lib/kubelet/pods``;
MicroK8s passes ``--root-dir`` in its kubelet args).

>>> pod_uid_of("pod3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f")
'3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f'
>>> pod_uid_of("kubepods-burstable-pod3f1c2b9e_8d3a_4c56_9f01_2a3b4c5d6e7f.slice")
'3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f'
>>> pod_uid_of("kubepods-besteffort.slice") is None, pod_uid_of("burstable") is None
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CGROUP_ROOT, CgroupMode, cgroup_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.model import Evidence

MICROK8S_KUBELET_ARGS = "/var/snap/microk8s/current/args/kubelet"
MICROK8S_SNAP_COMMON = "/var/snap/microk8s/common"

#: Directories under a kubepods root that hold pod cgroups (the root itself: Guaranteed).
_CGROUPFS_PARENTS = ("kubepods", "kubepods/burstable", "kubepods/besteffort")
_SYSTEMD_PARENTS = (
    "kubepods.slice",
    "kubepods.slice/kubepods-burstable.slice",
    "kubepods.slice/kubepods-besteffort.slice",
)


def pod_uid_of(name: str) -> str | None:
    """The pod UID a cgroup directory name carries, or ``None`` if it is not a pod cgroup."""
    if name.endswith(".slice"):
        last = name[: -len(".slice")].rsplit("-", 1)[-1]
        if last.startswith("pod") and len(last) > 3:
            return last[3:].replace("_", "-")
        return None
    if name.startswith("pod") and len(name) > 3:
        return name[3:]
    return None


@dataclass(frozen=True)
class PodCgroup:
    uid: str
    #: Node path of the cgroup directory.
    path: str
    #: The hierarchy it is in: ``/sys/fs/cgroup`` (v2) or ``/sys/fs/cgroup/memory`` (v1).
    hierarchy: str
    driver: str
    #: A ``cgroup.procs`` in it or in its containers' cgroups lists a process.
    has_processes: bool

    @property
    def depth(self) -> int:
        return self.path.count("/")

    @property
    def evidence(self) -> Evidence:
        state = "has processes" if self.has_processes else "empty"
        return Evidence(self.path, f"pod cgroup for UID {self.uid} ({self.driver} driver, {state})")


@dataclass(frozen=True)
class PodCgroupFacts:
    #: The cgroup hierarchy could be read (a disk image has an empty /sys).
    cgroups_known: bool
    unknown_reason: str | None
    cgroups: tuple[PodCgroup, ...]
    #: The kubelet's pods directory, and the UIDs in it.
    pods_dir: str
    pod_uids: frozenset[str]
    pods_dir_exists: bool

    @property
    def pods_evidence(self) -> Evidence:
        if not self.pods_dir_exists:
            return Evidence(self.pods_dir, "absent: the kubelet has no pods")
        return Evidence(self.pods_dir, f"{len(self.pod_uids)} pod director(ies)")

    def orphans(self) -> list[PodCgroup]:
        return [c for c in self.cgroups if c.uid not in self.pod_uids]


def _hierarchies(facts: Facts) -> tuple[list[str], str | None]:
    cg = facts.get(cgroup_facts)
    if cg.mode is CgroupMode.V2:
        return [CGROUP_ROOT], None
    if cg.mode in (CgroupMode.V1, CgroupMode.HYBRID):
        points = sorted({h.mount_point for h in cg.v1_mounts.values()})
        if points:
            return points, None
        return [], "no cgroup v1 hierarchy is mounted in this root"
    return [], "the cgroup hierarchy is unknown (no mount table and no /sys/fs/cgroup)"


def _has_processes(facts: Facts, path: str) -> bool:
    procs = facts.read(f"{path}/cgroup.procs")
    if procs and procs.strip():
        return True
    for child in facts.root.listdir(path) or []:
        child_path = f"{path}/{child}"
        if facts.root.is_dir(child_path):
            text = facts.read(f"{child_path}/cgroup.procs")
            if text and text.strip():
                return True
    return False


def _pods_dir(facts: Facts) -> str:
    if facts.get(deployer_profile).name == "microk8s":
        text = facts.read(MICROK8S_KUBELET_ARGS) or ""
        for line in text.splitlines():
            if line.strip().startswith("--root-dir="):
                value = line.split("=", 1)[1].strip().strip("'\"")
                value = value.replace("${SNAP_COMMON}", MICROK8S_SNAP_COMMON)
                return value.rstrip("/") + "/pods"
    return facts.get(teardown_facts).kubelet_dir.rstrip("/") + "/pods"


def pod_cgroup_facts(facts: Facts) -> PodCgroupFacts:
    pods_dir = _pods_dir(facts)
    listing = facts.root.listdir(pods_dir)
    uids = frozenset(listing or ())
    hierarchies, reason = _hierarchies(facts)
    if not hierarchies or not any(facts.root.listdir(h) for h in hierarchies):
        return PodCgroupFacts(
            False,
            reason or "no cgroup directories under /sys/fs/cgroup in this root",
            (),
            pods_dir,
            uids,
            listing is not None,
        )
    found: list[PodCgroup] = []
    for hierarchy in hierarchies:
        for driver, parents in (("cgroupfs", _CGROUPFS_PARENTS), ("systemd", _SYSTEMD_PARENTS)):
            for parent in parents:
                parent_path = f"{hierarchy}/{parent}"
                for name in facts.root.listdir(parent_path) or []:
                    path = f"{parent_path}/{name}"
                    uid = pod_uid_of(name)
                    if uid is None or not facts.root.is_dir(path):
                        continue
                    found.append(
                        PodCgroup(uid, path, hierarchy, driver, _has_processes(facts, path))
                    )
    return PodCgroupFacts(True, None, tuple(found), pods_dir, uids, listing is not None)
