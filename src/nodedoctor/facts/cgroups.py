"""What the cgroup hierarchy gives the kubelet: mode, controllers, and why one is missing.

The mode is judged as the kubelet judges it (opencontainers/cgroups ``IsCgroup2UnifiedMode``:
the filesystem type at ``/sys/fs/cgroup``), so hybrid counts as v1.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.mounts import mount_table
from nodedoctor.model import Evidence
from nodedoctor.parsers.proc_cgroups import ControllerRow, parse_proc_cgroups

CGROUP_ROOT = "/sys/fs/cgroup"


class CgroupMode(enum.Enum):
    V1 = "v1"
    HYBRID = "hybrid"
    V2 = "v2"

    @property
    def kubelet_sees_v2(self) -> bool:
        return self is CgroupMode.V2


@dataclass(frozen=True)
class V1Hierarchy:
    """One v1 hierarchy: the controllers it carries and where it is mounted."""

    controllers: tuple[str, ...]
    mount_point: str
    line: int
    text: str


@dataclass(frozen=True)
class CgroupFacts:
    mode: CgroupMode | None
    mode_evidence: Evidence | None
    #: v2: the fields of the root ``cgroup.controllers``; ``None`` when unknown.
    v2_root_controllers: Sourced[tuple[str, ...]] | None
    #: v2: the root's ``cgroup.subtree_control``.
    v2_root_subtree_control: Sourced[tuple[str, ...]] | None
    #: ``/proc/cgroups`` rows (v1 view of the kernel), empty when absent.
    proc_cgroups: tuple[ControllerRow, ...]
    proc_cgroups_known: bool
    #: v1 hierarchies mounted, by controller name (``name=systemd`` as ``systemd``).
    v1_mounts: dict[str, V1Hierarchy] = field(default_factory=dict)
    root_cpu_stat: bool | None = None

    def available(self) -> dict[str, tuple[bool, Evidence]] | None:
        """Which controllers the kernel gives, by name, each with its evidence;
        ``None`` when nothing tells."""
        out: dict[str, tuple[bool, Evidence]] = {}
        if self.mode is CgroupMode.V2:
            if self.v2_root_controllers is None:
                return None
            for name in _KNOWN_CONTROLLERS:
                out[name] = (
                    name in self.v2_root_controllers.value,
                    self.v2_root_controllers.evidence,
                )
            return out
        if not self.proc_cgroups_known:
            return None
        for row in self.proc_cgroups:
            out[row.name] = (row.enabled, Evidence("/proc/cgroups", row.text, row.line))
        return out


_KNOWN_CONTROLLERS = ("cpu", "cpuset", "memory", "pids", "hugetlb", "io", "rdma", "misc")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def cgroup_facts(facts: Facts) -> CgroupFacts:
    table = facts.get(mount_table)
    mode: CgroupMode | None = None
    mode_evidence: Evidence | None = None
    v1_mounts: dict[str, V1Hierarchy] = {}
    top = table.at(CGROUP_ROOT)
    if top is not None:
        mode_evidence = Evidence(table.source or "mountinfo", top.text, top.line)
        if top.fstype == "cgroup2":
            mode = CgroupMode.V2
        elif top.fstype == "tmpfs":
            unified = table.at(f"{CGROUP_ROOT}/unified")
            mode = CgroupMode.HYBRID if unified and unified.fstype == "cgroup2" else CgroupMode.V1
    for m in table.of_type("cgroup"):
        if not m.mount_point.startswith(CGROUP_ROOT + "/"):
            continue
        names = [o for o in m.super_options if o not in ("rw", "ro") and "=" not in o]
        names += [o.split("=", 1)[1] for o in m.super_options if o.startswith("name=")]
        for name in names:
            current = v1_mounts.get(name)
            # The kubelet keeps the shortest mount point per subsystem.
            if current is None or len(m.mount_point) < len(current.mount_point):
                v1_mounts[name] = V1Hierarchy(tuple(names), m.mount_point, m.line, m.text)

    root_controllers: Sourced[tuple[str, ...]] | None = None
    subtree: Sourced[tuple[str, ...]] | None = None
    cpu_stat: bool | None = None
    controllers_path = f"{CGROUP_ROOT}/cgroup.controllers"
    text = facts.read(controllers_path)
    if mode is None and text is not None:
        # No mount table (a bare image or a minimal bundle): v2 iff the root file is there,
        # the rule runc documents.
        mode = CgroupMode.V2
        mode_evidence = file_evidence(controllers_path, text or "(empty)")
    if mode is CgroupMode.V2:
        if text is not None:
            root_controllers = Sourced(_words(text), file_evidence(controllers_path, text, 1))
        sub_path = f"{CGROUP_ROOT}/cgroup.subtree_control"
        sub = facts.read(sub_path)
        if sub is not None:
            subtree = Sourced(_words(sub), file_evidence(sub_path, sub or "(empty)", 1))
        if root_controllers is not None:
            cpu_stat = facts.root.exists(f"{CGROUP_ROOT}/cpu.stat")

    rows = facts.parse("/proc/cgroups", parse_proc_cgroups)
    return CgroupFacts(
        mode=mode,
        mode_evidence=mode_evidence,
        v2_root_controllers=root_controllers,
        v2_root_subtree_control=subtree,
        proc_cgroups=tuple(rows or ()),
        proc_cgroups_known=rows is not None,
        v1_mounts=v1_mounts,
        root_cpu_stat=cpu_stat,
    )
