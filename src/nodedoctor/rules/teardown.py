"""Leftovers of a torn-down cluster: cgroup mounts outside /sys/fs/cgroup, kubelet volume
mounts, and pod cgroups of pods the kubelet no longer has."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.podcgroups import PodCgroupFacts, pod_cgroup_facts
from nodedoctor.facts.teardown import Leftover, TeardownFacts, teardown_facts
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

_MAX_EVIDENCE = 8

_OWNER_TEXT = {
    "calico": "Calico (v3.24+, calico-node's init container) mounts the host's root cgroup2 here",
    "cilium": "Cilium (cgroup.autoMount) mounts the host's root cgroup2 here",
}


_UMOUNT_ALL = "awk '$2 ~ \"^{dir}/\" {{print $2}}' /proc/mounts | sort -r | xargs -r -n1 umount"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _mounts_or_skip(facts: Facts) -> TeardownFacts:
    td = facts.get(teardown_facts)
    if not td.mounts_known:
        raise SkipRuleError(
            "no mount table in this root (/proc/self/mountinfo, /proc/1/mountinfo, /proc/mounts)"
        )
    return td


def _check_foreign(facts: Facts) -> Iterator[Issue]:
    td = _mounts_or_skip(facts)
    leftovers = [m for m in td.foreign_cgroup if m.removable]
    if not leftovers:
        return
    kubelet = td.kubelet
    for m in leftovers:
        owner = _OWNER_TEXT.get(m.owner or "", "a process mounted a cgroup hierarchy here")
        fstype = m.mount.fstype
        parent = m.mount_point.rsplit("/", 1)[0] or "/"
        danger = (
            f"'rm -rf' of {parent} fails with 'Operation not permitted' on the cgroup "
            "interface files and, worse, removes every empty host cgroup it reaches "
            "(rmdir deletes a cgroup without processes)"
        )
        if kubelet.removed:
            severity = Severity.WARNING
            message = (
                f"{m.mount_point} is a {fstype} mount outside /sys/fs/cgroup and "
                f"{kubelet.describe()}: {owner}, and teardown left it behind; {danger}. "
                f"Unmount it before removing {parent}"
            )
        else:
            severity = Severity.INFO
            state = kubelet.describe()
            if kubelet.running is True:
                state += ", so this is expected"
            message = (
                f"{m.mount_point} is a {fstype} mount outside /sys/fs/cgroup ({owner}); "
                f"{state}. When this node is torn down, unmount it before deleting "
                f"{parent}: {danger}"
            )
        yield Issue(
            title=f"{fstype} mounted at {m.mount_point}, outside /sys/fs/cgroup",
            message=message,
            evidence=(m.evidence, *kubelet.evidence[:2]),
            severity=severity,
            fix=FixHint(
                summary=f"unmount {m.mount_point} before removing its directory "
                "(never rm -rf through a cgroup filesystem)",
                available=False,
                commands=(f"umount {m.mount_point}", f"rm -rf --one-file-system {parent}"),
            ),
            impact="teardown (kk delete cluster, kubespray reset) fails or deletes host cgroups",
        )


def _check_kubelet_mounts(facts: Facts) -> Iterator[Issue]:
    td = _mounts_or_skip(facts)
    mounts: list[Leftover] = list(td.kubelet_mounts)
    if not mounts:
        return
    gone = td.kubelet.gone
    if gone is None:
        raise SkipRuleError(
            f"{len(mounts)} mount(s) under {td.kubelet_dir}/, but this offline root cannot tell "
            "whether the kubelet runs, and its configuration is still there"
        )
    if not gone:
        return
    deepest = sorted(mounts, key=lambda m: (-m.depth, -m.mount.line))
    kinds = sorted({m.mount.fstype for m in mounts})
    shown = deepest[:_MAX_EVIDENCE]
    more = f" (showing {len(shown)})" if len(mounts) > len(shown) else ""
    evidence: tuple[Evidence, ...] = (
        *(m.evidence for m in shown),
        *td.kubelet.evidence[:2],
    )
    summary = (
        f"unmount every mount under {td.kubelet_dir}/, deepest first, as 'kubeadm reset' "
        "does, then remove the directory's contents"
    )
    if not td.kubelet.removed:
        summary = (
            "if the node stays in the cluster, start the kubelet (it unmounts the volumes of "
            f"pods that are gone); if it is being torn down, {summary}"
        )
    yield Issue(
        title=f"{len(mounts)} mount(s) left under {td.kubelet_dir}/ with no kubelet running",
        message=(
            f"{len(mounts)} mount(s) ({', '.join(kinds)}) remain under {td.kubelet_dir}/{more} "
            f"and {td.kubelet.describe()}: pod volumes and projected secrets that only the "
            f"kubelet unmounts. Deleting {td.kubelet_dir} fails ('Device or resource busy') "
            "or reaches into the mounted volumes"
        ),
        evidence=evidence,
        fix=FixHint(
            summary=summary,
            available=False,
            commands=tuple(f"umount {m.mount_point}" for m in deepest)
            if len(deepest) <= _MAX_EVIDENCE
            else (_UMOUNT_ALL.format(dir=td.kubelet_dir),),
        ),
        impact="a reinstall or 'rm -rf /var/lib/kubelet' fails; volume data can be deleted",
    )


def _check_orphans(facts: Facts) -> Iterator[Issue]:
    td = facts.get(teardown_facts)
    if td.kubelet.running is True:
        # The kubelet removes pod cgroups of pods it no longer has on every housekeeping
        # pass (cleanupOrphanedPodCgroups); a pod cgroup seen without its directory while it
        # runs is a pod being created or deleted right now. Nothing to list (a live node
        # with 500 pods on cgroup v1 has 6,500 pod cgroups).
        return
    pc: PodCgroupFacts = facts.get(pod_cgroup_facts)
    if not pc.cgroups_known:
        raise SkipRuleError(pc.unknown_reason or "no cgroup hierarchy in this root")
    orphans = pc.orphans()
    if not orphans:
        return
    uids = sorted({o.uid for o in orphans})
    busy = [o for o in orphans if o.has_processes]
    shown = orphans[:_MAX_EVIDENCE]
    evidence = (*tuple(o.evidence for o in shown), pc.pods_evidence)
    busy_text = (
        f"; {len(busy)} still hold processes (containers were never stopped), so they "
        "cannot be removed until those exit"
        if busy
        else "; all are empty and can be removed with rmdir"
    )
    yield Issue(
        title=f"pod cgroups left for {len(uids)} pod(s) the kubelet no longer has",
        message=(
            f"{len(orphans)} pod cgroup(s) under kubepods belong to {len(uids)} pod UID(s) "
            f"with no directory in {pc.pods_dir} ({', '.join(uids[:3])}"
            f"{', ...' if len(uids) > 3 else ''}){busy_text}. {_sentence(td.kubelet.describe())}; "
            "a running kubelet removes such orphans itself, and a reboot clears all cgroups"
        ),
        evidence=evidence,
        fix=FixHint(
            summary="start the kubelet (it removes orphaned pod cgroups), reboot, or remove "
            "the empty pod cgroups with rmdir, deepest first (never rm -rf in a cgroup "
            "filesystem)",
            available=False,
            commands=tuple(f"rmdir {o.path}" for o in sorted(shown, key=lambda o: -o.depth)),
        ),
        impact="stale cgroups keep their limits and accounting; a reinstalled kubelet with "
        "another driver or layout trips over them",
    )


FOREIGN_CGROUP_MOUNT = Rule(
    id="foreign-cgroup-mount",
    severity=Severity.WARNING,
    title="cgroup filesystem mounted outside /sys/fs/cgroup (Calico, Cilium)",
    check=_check_foreign,
    tags=("teardown", "calico", "cilium", "kubekey", "kubespray"),
    applies_to="all versions; info while the kubelet runs, warning once it is gone",
    family="NodeTeardownLeftovers",
)

KUBELET_MOUNTS_LEFT = Rule(
    id="kubelet-mounts-left",
    severity=Severity.WARNING,
    title="mounts left under /var/lib/kubelet/ with no kubelet",
    check=_check_kubelet_mounts,
    tags=("teardown", "kubeadm", "kubekey", "kubespray"),
    applies_to="all versions",
    family="NodeTeardownLeftovers",
)

ORPHANED_POD_CGROUPS = Rule(
    id="orphaned-pod-cgroups",
    severity=Severity.WARNING,
    title="pod cgroups left for pods the kubelet no longer has",
    check=_check_orphans,
    tags=("teardown", "cgroups", "kubelet"),
    applies_to="all versions; cgroupfs and systemd drivers, cgroup v1 and v2",
    family="NodeTeardownLeftovers",
)

#: This module's rules, in registry order (``rules.registered``).
RULES = (FOREIGN_CGROUP_MOUNT, KUBELET_MOUNTS_LEFT, ORPHANED_POD_CGROUPS)
