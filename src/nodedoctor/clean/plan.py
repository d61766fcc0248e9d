"""The clean plan: what teardown left, what may be removed, in which order, and why.

Mounts come classified from ``facts.teardown`` (never re-derived here); this module only
decides the order, what is kept and why, and walks the kubepods cgroup trees:

- unmount, deepest first (later mounts at the same point first): cgroup/cgroup2 mounts
  outside ``/sys/fs/cgroup`` (Calico ``/run/calico/cgroup``, Cilium
  ``/run/cilium/cgroupv2``), bpffs mounts other than the standard ``/sys/fs/bpf``
  (Cilium's fallback ``/run/cilium/bpffs``), mounts strictly under ``/var/lib/kubelet/``
  (as ``kubeadm reset`` does), and CNI netns bind mounts ``/run/netns/cni-*``;
- ``rmdir``, deepest first, of each kubepods cgroup (``kubepods``, ``kubepods.slice`` and
  everything below, both drivers) with no process in it or below it, on every v1 hierarchy
  and on the v2 (or hybrid unified) hierarchy.

A mount with an unplanned mount below it is kept (unmounting it would take the other one
along), and nothing outside this allowlist is ever planned.

``NODEDOCTOR_CGROUP_ROOT`` (or the hidden ``clean --cgroup-root DIR``) replaces the cgroup
hierarchies under ``/sys/fs/cgroup`` with one directory on a cgroup filesystem, so tests can
run against a private subtree; the mounts that carry it are never planned.
"""

from __future__ import annotations

import bisect
import functools
import os
from collections.abc import Callable, Sequence

from nodedoctor._record import field, record
from nodedoctor.clean.leftovers import plan_leftovers
from nodedoctor.clean.steps import Blocker, Kept, Step
from nodedoctor.facts import Facts
from nodedoctor.facts.kubepods import kubepods_facts
from nodedoctor.facts.mounts import mount_table
from nodedoctor.facts.processes import processes
from nodedoctor.facts.teardown import CGROUP_ROOT, STANDARD_BPFFS, Leftover, teardown_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence
from nodedoctor.parsers.mountinfo import Mount
from nodedoctor.sources.root import UnsafePathError

__all__ = ["Blocker", "CleanPlan", "Kept", "Step", "plan_clean"]

CGROUP_ROOT_ENV = "NODEDOCTOR_CGROUP_ROOT"
KUBEPODS_TOPS = ("kubepods", "kubepods.slice")
#: A bound on the cgroup walk, far above any node's pod count.
MAX_CGROUPS = 100_000

#: Daemons that must be stopped before a teardown, by ``comm``: kubelets first.
KUBELET_COMMS = ("kubelet", "kubelite", "k3s-server", "k3s-agent")
RUNTIME_COMMS = ("containerd", "crio", "dockerd", "cri-dockerd")

_OWNER_WHY = {
    "calico": N_(
        "Calico (v3.24+) mounts the host's root cgroup2 here for its eBPF connect-time "
        "load balancer, and its mount outlives the pod (mountPropagation: Bidirectional)"
    ),
    "cilium": N_(
        "Cilium mounts the host's cgroup2 here (cgroup.hostRoot) for socket-based load "
        "balancing, and the mount outlives the agent"
    ),
}
_CGROUP_ELSEWHERE = N_("a cgroup hierarchy mounted outside /sys/fs/cgroup")
_KUBELET_MOUNT = N_(
    "strictly under /var/lib/kubelet/: a pod volume or token mount, which `kubeadm reset` "
    "unmounts too"
)
_EMPTY_CGROUP = N_(
    "an empty kubepods cgroup (no process in it or below it); `rmdir` removes only an empty "
    "cgroup, never a file or a populated one"
)

#: A message in the current language, looked up once per plan: a teardown has 100,000 pod
#: mounts and cgroups sharing a few reasons, and one lookup costs microseconds.
Translate = Callable[[str], str]


def _translator() -> Translate:
    return functools.lru_cache(maxsize=None)(_)


@record
class CleanPlan:
    root: str
    live: bool
    steps: tuple[Step, ...]
    kept: tuple[Kept, ...]
    blockers: tuple[Blocker, ...]
    #: Whether the running daemons could be told (live, or a recorded bundle).
    blockers_known: bool
    hierarchies: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    #: kubepods directories, relative to each hierarchy, whose trees may be removed.
    kubepods_tops: tuple[str, ...] = KUBEPODS_TOPS

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "live": self.live,
            "steps": [s.to_json() for s in self.steps],
            "kept": [k.to_json() for k in self.kept],
            "blockers": [b.to_json() for b in self.blockers],
            "blockers_known": self.blockers_known,
            "hierarchies": list(self.hierarchies),
            "kubepods_tops": list(self.kubepods_tops),
            "notes": list(self.notes),
        }


def _under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/")
    return path.startswith(directory + "/")


class _UnplannedBelow:
    """The first mount (in mount-table order) strictly below a path that the plan does not
    remove, in logarithmic time: the mount points sorted, so those below ``P`` are the run
    from ``P/`` to ``P0`` (``0`` follows ``/``), and a segment tree of the smallest table
    index of an unplanned mount over that order. A scan of the table for every planned mount
    made planning quadratic (8,000 leftover mounts: 9 s)."""

    def __init__(self, mounts: Sequence[Mount], unplanned: Sequence[bool]) -> None:
        self._mounts = mounts
        order = sorted(range(len(mounts)), key=lambda i: mounts[i].mount_point)
        self._points = [mounts[i].mount_point for i in order]
        self._none = len(mounts)
        size = 1
        while size < len(order):
            size *= 2
        self._size = size
        tree = [self._none] * (2 * size)
        for position, index in enumerate(order):
            if unplanned[index]:
                tree[size + position] = index
        for node in range(size - 1, 0, -1):
            tree[node] = min(tree[2 * node], tree[2 * node + 1])
        self._tree = tree

    def _smallest(self, lo: int, hi: int) -> int:
        """The smallest unplanned table index at sorted positions ``lo`` to ``hi - 1``."""
        best = self._none
        lo += self._size
        hi += self._size
        while lo < hi:
            if lo & 1:
                best = min(best, self._tree[lo])
                lo += 1
            if hi & 1:
                hi -= 1
                best = min(best, self._tree[hi])
            lo //= 2
            hi //= 2
        return best

    def first(self, point: str) -> Mount | None:
        """As ``_under(m.mount_point, point)`` over the table, the first unplanned match."""
        prefix = point.rstrip("/") + "/"
        lo = bisect.bisect_left(self._points, prefix)
        hi = bisect.bisect_left(self._points, prefix[:-1] + "0")
        index = self._smallest(lo, hi)
        return None if index == self._none else self._mounts[index]


def _mount_reason(item: Leftover, tr: Translate) -> str:
    point = item.mount_point
    if item.kind == "cgroup":
        why = tr(_OWNER_WHY.get(item.owner or "", _CGROUP_ELSEWHERE))
        return tr(
            N_(
                "{why}; `rm -rf` through it fails with `Operation not permitted` or deletes empty "
                "host cgroups (kubekey#2539). Unmounting removes only this extra view of the "
                "hierarchy, never a cgroup"
            )
        ).format(why=why)
    if item.kind == "bpffs":
        return tr(
            N_(
                "a bpffs outside {path} (Cilium falls back to /run/cilium/bpffs), left by the "
                "CNI; unmounting releases the pins of the removed CNI"
            )
        ).format(path=STANDARD_BPFFS)
    if item.kind == "kubelet":
        return tr(_KUBELET_MOUNT)
    if item.kind == "netns":
        return tr(N_("a CNI network namespace bind mount ({point}) of a pod that is gone")).format(
            point=point
        )
    return tr(N_("left by the cluster"))


def _kept_reason(item: Leftover, tr: Translate) -> str:
    if item.kind == "bpffs" and item.mount_point == STANDARD_BPFFS:
        return tr(
            N_(
                "the standard bpffs: systemd mounts {path} at boot and other programs pin maps "
                "there; Calico and Cilium only mount it when it is missing"
            )
        ).format(path=STANDARD_BPFFS)
    if item.owner == "lxcfs":
        return tr(N_("belongs to lxcfs on the host, not to Kubernetes"))
    return tr(N_("not safe to remove"))


def cgroup_root_override(explicit: str | None = None) -> str | None:
    value = explicit or os.environ.get(CGROUP_ROOT_ENV) or None
    return os.path.normpath(value) if value else None


def _hierarchies(facts: Facts, override: str | None) -> tuple[list[str], list[str]]:
    if override is not None:
        return [override], [
            _("cgroup tree root replaced by {path} (--cgroup-root or {variable})").format(
                path=override, variable=CGROUP_ROOT_ENV
            )
        ]
    table = facts.get(mount_table)
    points: list[str] = []
    for m in table.of_type("cgroup", "cgroup2"):
        point = m.mount_point
        if (point == CGROUP_ROOT or _under(point, CGROUP_ROOT)) and point not in points:
            points.append(point)
    if not points and facts.root.exists(f"{CGROUP_ROOT}/cgroup.controllers"):
        points.append(CGROUP_ROOT)
    notes = [] if points else [_("no cgroup hierarchy is visible in this root")]
    return points, notes


@record
class _Node:
    path: str
    procs: str | None
    children: list[_Node]


def _host_path(facts: Facts, path: str) -> str | None:
    try:
        return os.path.realpath(facts.root.resolve(path))
    except UnsafePathError:
        return None


def _walk(facts: Facts, top: str, budget: list[int], seen: set[str]) -> _Node | None:
    """The cgroup tree at ``top``. A cgroup filesystem has no links; a recorded root might,
    so a directory reached twice (a link loop) is not walked again."""
    host = _host_path(facts, top)
    if host is None or host in seen:
        return None
    entries = facts.root.listdir(top)
    if entries is None or budget[0] <= 0:
        return None
    seen.add(host)
    budget[0] -= 1
    node = _Node(top, facts.read(f"{top}/cgroup.procs"), [])
    for name in entries:
        child = f"{top}/{name}"
        if facts.root.is_dir(child):
            sub = _walk(facts, child, budget, seen)
            if sub is not None:
                node.children.append(sub)
    return node


def _cgroup_steps(
    facts: Facts,
    hierarchy: str,
    node: _Node,
    steps: list[Step],
    kept: list[Kept],
    *,
    tr: Translate,
) -> bool:
    """Plan ``rmdir`` for the empty cgroups of ``node``'s tree; whether ``node`` is removable."""
    removable = True
    for child in node.children:
        removable = _cgroup_steps(facts, hierarchy, child, steps, kept, tr=tr) and removable
    if node.procs is None:
        kept.append(
            Kept(
                node.path,
                "kubepods",
                tr(N_("cannot read cgroup.procs: whether it is empty is unknown")),
            )
        )
        return False
    pids = node.procs.split()
    if pids:
        kept.append(
            Kept(
                node.path,
                "kubepods",
                tr(
                    N_(
                        "has {n} process(es) (pid {pids}); a cgroup with processes cannot be "
                        "removed and its pod may still run"
                    )
                ).format(n=len(pids), pids=", ".join(pids[:5])),
                Evidence(f"{node.path}/cgroup.procs", " ".join(pids[:20])),
            )
        )
        return False
    if not removable:
        kept.append(Kept(node.path, "kubepods", tr(N_("a cgroup below it is kept"))))
        return False
    steps.append(
        Step(
            action="rmdir",
            path=node.path,
            kind="kubepods",
            reason=tr(_EMPTY_CGROUP),
            evidence=Evidence(f"{node.path}/cgroup.procs", "(empty)"),
            hierarchy=hierarchy,
        )
    )
    return True


def unit_of(facts: Facts, pid: int) -> str | None:
    """The systemd service running ``pid``, from its cgroup path (v2 ``0::`` line, or the v1
    ``name=systemd`` hierarchy): ``/system.slice/containerd.service`` -> ``containerd.service``.

    >>> from nodedoctor.sources.root import Root
    >>> unit_of(Facts(Root("/nonexistent")), 1) is None
    True
    """
    text = facts.read(f"/proc/{pid}/cgroup") or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not (parts[0] == "0" or parts[1] == "name=systemd"):
            continue
        for component in reversed(parts[2].split("/")):
            if component.endswith(".service"):
                return component
    return None


def is_kubepods_top(relative: str) -> bool:
    """A kubepods directory the kubelet names: ``kubepods`` (cgroupfs) or ``kubepods.slice``
    / ``<root>-kubepods.slice`` (systemd), under any ``cgroupRoot``, never with ``..``.

    >>> [is_kubepods_top(p) for p in ("kubepods", "k8s/kubepods", "k8s.slice/k8s-kubepods.slice")]
    [True, True, True]
    >>> [is_kubepods_top(p) for p in ("", "system.slice", "../kubepods", "kubepods/burstable")]
    [False, False, False, False]
    """
    parts = relative.strip("/").split("/")
    if not parts or any(p in ("", ".", "..") for p in parts):
        return False
    last = parts[-1]
    return last in ("kubepods", "kubepods.slice") or last.endswith("-kubepods.slice")


def kubepods_tops(facts: Facts) -> tuple[str, ...]:
    """The default kubepods locations, plus the one a non-default ``cgroupRoot`` gives when
    the kubelet's configuration is still on the node (``facts.kubepods``)."""
    tops = list(KUBEPODS_TOPS)
    state = facts.get(kubepods_facts).kubepods
    if state is not None:
        relative = state.relative.strip("/")
        if is_kubepods_top(relative) and relative not in tops:
            tops.append(relative)
    return tuple(tops)


def blockers(facts: Facts) -> tuple[tuple[Blocker, ...], bool]:
    procs = facts.get(processes)
    if not procs.known:
        return (), False
    found = [
        Blocker(role, p.comm, p.pid, p.evidence, unit_of(facts, p.pid))
        for role, comms in (("kubelet", KUBELET_COMMS), ("runtime", RUNTIME_COMMS))
        for p in procs.named(*comms)
    ]
    return tuple(found), True


def plan_clean(facts: Facts, cgroup_root: str | None = None) -> CleanPlan:
    """The teardown plan for ``facts``' node. ``cgroup_root`` (or ``NODEDOCTOR_CGROUP_ROOT``)
    replaces the cgroup hierarchies, for tests."""
    override = cgroup_root_override(cgroup_root)
    td = facts.get(teardown_facts)
    table = facts.get(mount_table)
    notes: list[str] = []
    if not td.mounts_known:
        notes.append(_("no mount table in this root: no mount can be planned"))
    tr = _translator()
    kept: list[Kept] = []
    unique: dict[tuple[int | None, str, int], Leftover] = {}
    for item in (*td.kubelet_mounts, *td.netns, *td.foreign_cgroup, *td.bpffs):
        unique.setdefault((item.mount.mount_id, item.mount_point, item.mount.line), item)
    planned: list[Leftover] = []
    for item in unique.values():
        point = item.mount_point
        if override is not None and (point == override or _under(override, point)):
            kept.append(
                Kept(
                    point,
                    item.kind,
                    tr(N_("carries the cgroup tree root {path}")).format(path=override),
                    item.evidence,
                )
            )
        elif not item.removable:
            kept.append(Kept(point, item.kind, _kept_reason(item, tr), item.evidence))
        else:
            planned.append(item)
    planned_ids = {(i.mount.mount_id, i.mount.line) for i in planned}
    unplanned_below = _UnplannedBelow(
        table.mounts, [(m.mount_id, m.line) not in planned_ids for m in table.mounts]
    )
    unmounts: list[Step] = []
    for item in planned:
        point = item.mount_point
        other = unplanned_below.first(point)
        if other is not None:
            kept.append(
                Kept(
                    point,
                    item.kind,
                    tr(
                        N_(
                            "{path} ({fstype}) is mounted below it and is not part of the plan; "
                            "unmounting would take it along"
                        )
                    ).format(path=other.mount_point, fstype=other.fstype),
                    item.evidence,
                )
            )
            continue
        unmounts.append(
            Step(
                action="unmount",
                path=point,
                kind=item.kind,
                reason=_mount_reason(item, tr),
                evidence=item.evidence,
                mount_id=item.mount.mount_id,
                fstype=item.mount.fstype,
                source=item.mount.source,
            )
        )
    unmounts.sort(key=lambda s: (-s.depth, -s.evidence.line if s.evidence.line else 0))

    hierarchies, hierarchy_notes = _hierarchies(facts, override)
    notes += hierarchy_notes
    rmdirs: list[Step] = []
    budget = [MAX_CGROUPS]
    seen: set[str] = set()
    tops = kubepods_tops(facts)
    for hierarchy in hierarchies:
        for top in tops:
            tree = _walk(facts, f"{hierarchy.rstrip('/')}/{top}", budget, seen)
            if tree is not None:
                _cgroup_steps(facts, hierarchy, tree, rmdirs, kept, tr=tr)
    if budget[0] <= 0:
        notes.append(
            _("more than {n} kubepods cgroups: the rest is not planned").format(n=MAX_CGROUPS)
        )
    rmdirs.sort(key=lambda s: (-s.depth, s.path))
    others, others_kept, others_notes = plan_leftovers(facts)
    kept += others_kept
    notes += others_notes
    found, known = blockers(facts)
    return CleanPlan(
        root=facts.root.label,
        live=facts.live,
        steps=tuple(unmounts + rmdirs + others),
        kept=tuple(kept),
        blockers=found,
        blockers_known=known,
        hierarchies=tuple(hierarchies),
        notes=tuple(notes),
        kubepods_tops=tops,
    )
