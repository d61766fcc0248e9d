"""orphaned-pod-cgroups: pod cgroups left for pods the kubelet no longer has."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.podcgroups import PodCgroupFacts, pod_cgroup_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import N_, _, language
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
        raise SkipRuleError(pc.unknown_reason or _("no cgroup hierarchy in this root"))
    orphans = pc.orphans()
    if not orphans:
        return
    uids = sorted({o.uid for o in orphans})
    busy = [o for o in orphans if o.has_processes]
    shown = orphans[:MAX_EVIDENCE]
    evidence = (*tuple(o.evidence for o in shown), pc.pods_evidence)
    kubelet = td.kubelet.describe()
    if language() == "en":  # the clause starts a sentence (Chinese has no capitals)
        kubelet = _sentence(kubelet)
    listed = ", ".join(uids[:3]) + (", ..." if len(uids) > 3 else "")
    if busy:
        message = _(
            "{n} pod cgroup(s) under kubepods belong to {pods} pod UID(s) with no directory "
            "in {dir} ({uids}); {busy} still hold processes (containers were never stopped), "
            "so they cannot be removed until those exit. {kubelet}; a running kubelet removes "
            "such orphans itself, and a reboot clears all cgroups"
        )
    else:
        message = _(
            "{n} pod cgroup(s) under kubepods belong to {pods} pod UID(s) with no directory "
            "in {dir} ({uids}); all are empty and can be removed with rmdir. {kubelet}; a "
            "running kubelet removes such orphans itself, and a reboot clears all cgroups"
        )
    yield Issue(
        title=_("pod cgroups left for {n} pod(s) the kubelet no longer has").format(n=len(uids)),
        message=message.format(
            n=len(orphans),
            pods=len(uids),
            dir=pc.pods_dir,
            uids=listed,
            busy=len(busy),
            kubelet=kubelet,
        ),
        evidence=evidence,
        fix=FixHint(
            summary=_(
                "start the kubelet (it removes orphaned pod cgroups), reboot, or remove "
                "the empty pod cgroups with rmdir, deepest first (never rm -rf in a cgroup "
                "filesystem)"
            ),
            available=False,
            # Only the empty ones: rmdir of a cgroup with processes fails (EBUSY).
            commands=tuple(
                f"rmdir {o.path}"
                for o in sorted(shown, key=lambda o: -o.depth)
                if not o.has_processes
            ),
        ),
        impact=_(
            "stale cgroups keep their limits and accounting; a reinstalled kubelet with "
            "another driver or layout trips over them"
        ),
    )


RULE = Rule(
    id="orphaned-pod-cgroups",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("pod cgroups left for pods the kubelet no longer has"),
    check=_check_orphans,
    tags=("teardown", "cgroups", "kubelet"),
    applies_to=N_("all versions; cgroupfs and systemd drivers, cgroup v1 and v2"),
)
