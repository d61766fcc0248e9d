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

Which pod cgroups exist comes from :func:`nodedoctor.facts.kubepods.pod_cgroup_entries` (both
drivers, every QoS class, every hierarchy, the kubelet's ``cgroupRoot``); this module adds
whether each still holds processes and compares the UIDs with the kubelet's pod directories.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.kubepods import PodCgroupEntry, kubepods_dirs, pod_cgroup_entries
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import _
from nodedoctor.model import Evidence


@record
class PodCgroup:
    uid: str
    #: Node path of the cgroup directory.
    path: str
    #: The hierarchy it is in: ``/sys/fs/cgroup`` (v2) or ``/sys/fs/cgroup/memory`` (v1).
    hierarchy: str
    driver: str
    #: A ``cgroup.procs`` in it or in its containers' cgroups lists a process; ``None``
    #: when not read: only orphans' are (a pod the kubelet knows needs no reads per pod).
    has_processes: bool | None

    @property
    def depth(self) -> int:
        return self.path.count("/")

    @property
    def evidence(self) -> Evidence:
        state = {True: "has processes", False: "empty", None: "processes not read"}[
            self.has_processes
        ]
        return Evidence(self.path, f"pod cgroup for UID {self.uid} ({self.driver} driver, {state})")


@record
class PodCgroupFacts:
    #: The cgroup hierarchy could be read (a disk image has an empty /sys), and this copy of
    #: the node holds every pod cgroup and pod directory (a bundle may hold part of them).
    cgroups_known: bool
    unknown_reason: str | None
    #: Every pod cgroup found, as :func:`nodedoctor.facts.kubepods.pod_cgroup_entries` gives
    #: them; :attr:`cgroups` and :meth:`orphans` make them :class:`PodCgroup` values on demand
    #: (a node has one per pod and hierarchy, and a healthy one has no orphan).
    entries: tuple[PodCgroupEntry, ...]
    #: The kubelet's pods directory, and the UIDs in it.
    pods_dir: str
    pod_uids: frozenset[str]
    pods_dir_exists: bool
    #: Orphans' cgroups that hold processes (only orphans' ``cgroup.procs`` are read).
    busy: frozenset[str] = frozenset()

    @property
    def pods_evidence(self) -> Evidence:
        if not self.pods_dir_exists:
            return Evidence(self.pods_dir, "absent: the kubelet has no pods")
        return Evidence(self.pods_dir, f"{len(self.pod_uids)} pod director(ies)")

    def orphans(self) -> list[PodCgroup]:
        return [self._cgroup(e) for e in self.entries if e[0] not in self.pod_uids]

    def _cgroup(self, entry: PodCgroupEntry) -> PodCgroup:
        uid, _, driver, path, hierarchy = entry
        busy = path in self.busy if uid not in self.pod_uids else None
        return PodCgroup(uid, path, hierarchy, driver, busy)


def _hierarchies(facts: Facts) -> tuple[list[str], str | None]:
    cg = facts.get(cgroup_facts)
    if cg.mode is CgroupMode.V2:
        return ["/sys/fs/cgroup"], None
    if cg.mode in (CgroupMode.V1, CgroupMode.HYBRID):
        points = sorted({h.mount_point for h in cg.v1_mounts.values()})
        if points:
            return points, None
        return [], _("no cgroup v1 hierarchy is mounted in this root")
    return [], _("the cgroup hierarchy is unknown (no mount table and no /sys/fs/cgroup)")


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
    return facts.get(teardown_facts).kubelet_dir.rstrip("/") + "/pods"


def _cgroup_root(facts: Facts) -> str:
    """The kubelet's ``cgroupRoot`` when its configuration tells, else the default ``/``."""
    setting = facts.get(kubelet_facts).setting("cgroupRoot")
    value = setting.value if setting is not None else None
    return value if isinstance(value, str) and value else "/"


def _partial_listing(facts: Facts, pods_dir: str, hierarchies: list[str]) -> str | None:
    """Why the comparison cannot be made on this copy of the node: it holds only part of the
    pod directories or of the pod cgroups (a bundle that left entries out)."""
    incomplete = facts.root.incomplete_listings()
    if not incomplete:
        return None
    if pods_dir in incomplete:
        return _("the bundle holds only part of {path} ({why})").format(
            path=pods_dir, why=incomplete[pods_dir]
        )
    trees = tuple(h + d for h in hierarchies for d in kubepods_dirs(_cgroup_root(facts)))
    for directory, why in incomplete.items():
        if directory.startswith(trees):
            return _("the bundle holds only part of the pod cgroups in {path} ({why})").format(
                path=directory, why=why
            )
    return None


def pod_cgroup_facts(facts: Facts) -> PodCgroupFacts:
    pods_dir = _pods_dir(facts)
    listing = facts.root.listdir(pods_dir)
    uids = frozenset(listing or ())
    hierarchies, reason = _hierarchies(facts)
    if not hierarchies or not any(facts.root.listdir(h) for h in hierarchies):
        reason = reason or _("no cgroup directories under /sys/fs/cgroup in this root")
    else:
        reason = _partial_listing(facts, pods_dir, hierarchies)
    if reason is not None:
        return PodCgroupFacts(False, reason, (), pods_dir, uids, listing is not None)
    entries = tuple(pod_cgroup_entries(facts, _cgroup_root(facts)))
    busy = frozenset(
        path for uid, _, _, path, _ in entries if uid not in uids and _has_processes(facts, path)
    )
    return PodCgroupFacts(True, None, entries, pods_dir, uids, listing is not None, busy)
