"""Pod directories whose pod is gone (``<kubelet dir>/pods/<uid>``) with volume paths still in
them: what the kubelet's ``cleanupOrphanedPodDirs`` refuses to remove, logging every two
seconds ``Orphaned pod "<uid>" found, but volume paths are still present on disk``
(kubernetes#60987).

A pod directory is the kubelet's until the pod is gone from the API server *and* from the
runtime, which only the kubelet knows: a finished Job's pod keeps its directory for as long as
the API server keeps the pod. So:

- where the cluster is gone (no kubelet running and none of its configuration left:
  ``facts.teardown.KubeletState.removed``), every pod directory with volume paths and without a
  running container (a pod cgroup holding processes) is left over, in every deployer's kubelet
  directory (``/var/lib/kubelet``, MicroK8s's ``/var/snap/microk8s/common/var/lib/kubelet``,
  the kubelet's ``--root-dir``);
- where the kubelet runs, only the pods that the kubelet itself reports as orphaned in its
  recent log (``journalctl-kubelet``: its last ten minutes, every deployer's unit) count, and
  only when their directory still has volume paths; elsewhere (no log here) it cannot be told.

The volume paths are the kubelet's own notion (``getPodVolumePathListFromDisk``,
``getPodVolumeSubpathListFromDisk``): ``volumes/<plugin>/<volume>`` and
``volume-subpaths/<volume>/<container>/<index>``.
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.podcgroups import pod_cgroup_facts
from nodedoctor.facts.teardown import DEPLOYER_KUBELET_DIRS, teardown_facts
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

#: Pod directories looked at per kubelet directory, and volume paths listed per pod: far
#: above a node's (the kubelet's maxPods defaults to 110).
MAX_PODS = 20_000
MAX_VOLUME_PATHS = 256

#: A pod directory's name: the pod's UID.
POD_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: The kubelet's orphan messages, every version: glog's ``Orphaned pod "<uid>" found, but
#: ...`` (1.5 to 1.20), klog's structured ``err="orphaned pod \\"<uid>\\" found, but ..."``.
_ORPHAN_LINE = re.compile(
    r'[Oo]rphaned pod \\?"(?P<uid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'
    r'\\?" found, but'
)
_TOTAL = re.compile(r"numErrs=(\d+)|There were a total of (\d+) errors")


@record
class PodDir:
    uid: str
    #: Node path of ``<kubelet dir>/pods/<uid>``.
    path: str
    #: Node paths of its volume paths (``volumes/<plugin>/<volume>``, ``volume-subpaths/...``).
    volume_paths: tuple[str, ...]
    #: Mount points under it (its volumes still mounted).
    mounts: tuple[str, ...]
    #: What tells the pod is gone.
    why: Evidence

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        shown = ", ".join(p.rsplit("/pods/", 1)[-1] for p in self.volume_paths[:3])
        more = f" and {len(self.volume_paths) - 3} more" if len(self.volume_paths) > 3 else ""
        return (Evidence(self.path, f"volume paths: {shown}{more}"), self.why)


@record
class KubeletOrphanLog:
    #: The log could be read (a live node or a bundle that recorded it).
    known: bool
    #: uid -> the line that names it.
    named: dict[str, Evidence]
    #: How many orphans the kubelet counted (``numErrs``), when it says.
    total: int | None


@record
class OrphanedPodDirs:
    #: ``removed``: the cluster is gone; ``kubelet-log``: the kubelet runs and its log names
    #: the orphans; ``none``: no pod directory of the kubelet could be one (each has its pod
    #: cgroup, or no volume path); ``None``: this cannot be told here (``skip_reason``).
    mode: str | None
    skip_reason: str
    pods: tuple[PodDir, ...]
    #: The kubelet's count of orphans it cannot clean (``numErrs``), in ``kubelet-log`` mode.
    kubelet_total: int | None = None


def _mounted_volume_paths(facts: Facts, pod: str) -> list[str]:
    """Volume paths that the mount table shows mounted (a mount point is a directory, also
    in a copy of the node that holds only files)."""
    found: list[str] = []
    indexed = pod.rsplit("/", 1)[0] + "/" in {d.rstrip("/") + "/" for d in pods_dirs(facts)}
    points = (
        facts.get(_mounts_by_pod).get(pod, ())
        if indexed
        else [m.mount_point for m in facts.get(teardown_facts).kubelet_mounts]
    )
    for point in points:
        rest = point[len(pod) + 1 :] if point.startswith(pod + "/") else ""
        parts = rest.split("/")
        if parts[0] == "volumes" and len(parts) >= 3:
            found.append(f"{pod}/volumes/{parts[1]}/{parts[2]}")
        elif parts[0] == "volume-subpaths" and len(parts) >= 4:
            found.append(f"{pod}/" + "/".join(parts[:4]))
    return found


def volume_paths(facts: Facts, pod: str) -> list[str]:
    """The kubelet's volume paths of the pod directory ``pod`` (bounded): those on disk and
    those the mount table shows mounted."""
    found: list[str] = list(dict.fromkeys(_mounted_volume_paths(facts, pod)))
    for plugin in facts.root.subdirs(f"{pod}/volumes") or []:
        for volume in facts.root.listdir(f"{pod}/volumes/{plugin}") or []:
            path = f"{pod}/volumes/{plugin}/{volume}"
            if path not in found:
                found.append(path)
            if len(found) >= MAX_VOLUME_PATHS:
                return found
    for volume in facts.root.subdirs(f"{pod}/volume-subpaths") or []:
        for container in facts.root.subdirs(f"{pod}/volume-subpaths/{volume}") or []:
            base = f"{pod}/volume-subpaths/{volume}/{container}"
            for index in facts.root.listdir(base) or []:
                if f"{base}/{index}" not in found:
                    found.append(f"{base}/{index}")
                if len(found) >= MAX_VOLUME_PATHS:
                    return found
    return found


def _pod_uids(facts: Facts, pods_dir: str) -> list[str]:
    """The pod directories in ``pods_dir``: on disk, and those the mount table shows."""
    uids = set(facts.root.subdirs(pods_dir) or [])
    prefix = pods_dir + "/"
    for m in facts.get(teardown_facts).kubelet_mounts:
        if m.mount_point.startswith(prefix):
            uids.add(m.mount_point[len(prefix) :].split("/", 1)[0])
    return sorted(uids)


def kubelet_orphan_log(facts: Facts) -> KubeletOrphanLog:
    result = facts.root.run("journalctl-kubelet")
    if result is None or not result.ok:
        return KubeletOrphanLog(False, {}, None)
    named: dict[str, Evidence] = {}
    total: int | None = None
    for line in result.stdout.splitlines():
        m = _ORPHAN_LINE.search(line)
        if m is None:
            continue
        named[m.group("uid")] = Evidence(result.display, line.strip()[:400])
        t = _TOTAL.search(line)
        if t is not None:
            total = int(t.group(1) or t.group(2))
    return KubeletOrphanLog(True, named, total)


def pods_dirs(facts: Facts) -> tuple[str, ...]:
    """Every ``pods`` directory a kubelet of this node may have used."""
    td = facts.get(teardown_facts)
    dirs = (*DEPLOYER_KUBELET_DIRS, td.kubelet_dir)
    return tuple(dict.fromkeys(f"{d.rstrip('/')}/pods" for d in dirs))


def _mounts_by_pod(facts: Facts) -> dict[str, tuple[str, ...]]:
    """The kubelet mounts under each pod directory (``<pods dir>/<uid>``), read in one pass
    over the mount table: a node with thousands of pods has tens of thousands of mounts."""
    td = facts.get(teardown_facts)
    prefixes = [d.rstrip("/") + "/" for d in pods_dirs(facts)]
    found: dict[str, list[str]] = {}
    for m in td.kubelet_mounts:
        point = m.mount_point
        for prefix in prefixes:
            if point.startswith(prefix):
                uid, sep, _rest = point[len(prefix) :].partition("/")
                if uid and sep:
                    found.setdefault(prefix + uid, []).append(point)
                break
    return {pod: tuple(points) for pod, points in found.items()}


def _mounts_below(facts: Facts, path: str) -> tuple[str, ...]:
    return facts.get(_mounts_by_pod).get(path.rstrip("/"), ())


def _removed_mode(facts: Facts) -> OrphanedPodDirs:
    pc = facts.get(pod_cgroup_facts)
    busy_uids = {e[0] for e in pc.entries if e[3] in pc.busy} if pc.cgroups_known else set()
    if pc.cgroups_known:
        why_text = "no pod cgroup with a process: no container of it runs"
    else:
        why_text = "the cluster is gone"
    pods: list[PodDir] = []
    for pods_dir in pods_dirs(facts):
        for uid in _pod_uids(facts, pods_dir)[:MAX_PODS]:
            if not POD_UID.match(uid) or uid in busy_uids:
                continue
            path = f"{pods_dir}/{uid}"
            volumes = volume_paths(facts, path)
            if volumes:
                why = Evidence(path, why_text)
                pods.append(PodDir(uid, path, tuple(volumes), _mounts_below(facts, path), why))
    return OrphanedPodDirs("removed", "", tuple(pods))


def _may_have_orphans(facts: Facts) -> bool:
    """Whether a pod directory of the running kubelet has volume paths and no pod cgroup: the
    only ones the kubelet can find orphaned (a pod it runs has its cgroup before its volumes).
    A healthy node's check stops here without asking the kubelet's log."""
    pc = facts.get(pod_cgroup_facts)
    with_cgroup = {e[0] for e in pc.entries} if pc.cgroups_known else set()
    pods_dir = pc.pods_dir
    return any(
        volume_paths(facts, f"{pods_dir}/{uid}")
        for uid in _pod_uids(facts, pods_dir)[:MAX_PODS]
        if POD_UID.match(uid) and uid not in with_cgroup
    )


def _log_mode(facts: Facts) -> OrphanedPodDirs:
    log = facts.get(kubelet_orphan_log)
    if not log.known:
        return OrphanedPodDirs(
            None,
            _(
                "the kubelet runs: only it knows which pod directories belong to pods the API "
                "server still has (a finished Job's pod keeps its directory), and it logs those "
                "it cannot remove ('Orphaned pod \"<uid>\" found, but ...'); its log cannot be "
                "read here (journalctl-kubelet: a live check or a bundle collected on the node)"
            ),
            (),
        )
    pods: list[PodDir] = []
    for uid, line in sorted(log.named.items()):
        for pods_dir in pods_dirs(facts):
            path = f"{pods_dir}/{uid}"
            volumes = volume_paths(facts, path)
            if volumes:
                pods.append(PodDir(uid, path, tuple(volumes), _mounts_below(facts, path), line))
    return OrphanedPodDirs("kubelet-log", "", tuple(pods), log.total)


def orphaned_pod_dirs(facts: Facts) -> OrphanedPodDirs:
    kubelet = facts.get(teardown_facts).kubelet
    if kubelet.removed:
        return _removed_mode(facts)
    if not _may_have_orphans(facts):
        return OrphanedPodDirs("none", "", ())
    if kubelet.running is True:
        return _log_mode(facts)
    if kubelet.running is False:
        return OrphanedPodDirs(
            None,
            _(
                "{kubelet}: its pods' directories are its own until it starts again "
                "and compares them with the API server (it removes those of pods that are gone)"
            ).format(kubelet=kubelet.describe()),
            (),
        )
    return OrphanedPodDirs(
        None,
        _("pod directories with volume paths and no pod cgroup are here, but {reason}").format(
            reason=kubelet.unknown_reason or kubelet.describe()
        ),
        (),
    )
