"""orphaned-pod-cgroups: pod cgroups left for pods the kubelet no longer has."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.podcgroups import PodCgroupFacts, pod_cgroup_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import MAX_EVIDENCE
from nodedoctor.rules.base import Rule, SkipRuleError


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


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
    shown = orphans[:MAX_EVIDENCE]
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
            # Only the empty ones: rmdir of a cgroup with processes fails (EBUSY).
            commands=tuple(
                f"rmdir {o.path}"
                for o in sorted(shown, key=lambda o: -o.depth)
                if not o.has_processes
            ),
        ),
        impact="stale cgroups keep their limits and accounting; a reinstalled kubelet with "
        "another driver or layout trips over them",
    )


RULE = Rule(
    id="orphaned-pod-cgroups",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title="pod cgroups left for pods the kubelet no longer has",
    check=_check_orphans,
    tags=("teardown", "cgroups", "kubelet"),
    applies_to="all versions; cgroupfs and systemd drivers, cgroup v1 and v2",
)
