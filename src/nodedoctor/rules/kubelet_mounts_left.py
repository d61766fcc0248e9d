"""kubelet-mounts-left: pod volume mounts left under /var/lib/kubelet/ with no kubelet."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.teardown import Leftover
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import MAX_EVIDENCE, mounts_or_skip
from nodedoctor.rules.base import Rule, SkipRuleError

_UMOUNT_ALL = "awk '$2 ~ \"^{dir}/\" {{print $2}}' /proc/mounts | sort -r | xargs -r -n1 umount"


def _check_kubelet_mounts(facts: Facts) -> Iterator[Issue]:
    td = mounts_or_skip(facts)
    mounts: list[Leftover] = list(td.kubelet_mounts)
    if not mounts:
        return
    gone = td.kubelet.gone
    if gone is None:
        raise SkipRuleError(
            f"{len(mounts)} mount(s) under {td.kubelet_dir}/ and the kubelet's configuration is "
            f"still there, but whether the kubelet runs cannot be told: {td.kubelet.unknown_reason}"
        )
    if not gone:
        return
    deepest = sorted(mounts, key=lambda m: (-m.depth, -m.mount.line))
    kinds = sorted({m.mount.fstype for m in mounts})
    shown = deepest[:MAX_EVIDENCE]
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
            if len(deepest) <= MAX_EVIDENCE
            else (_UMOUNT_ALL.format(dir=td.kubelet_dir),),
        ),
        impact="a reinstall or 'rm -rf /var/lib/kubelet' fails; volume data can be deleted",
    )


RULE = Rule(
    id="kubelet-mounts-left",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title="mounts left under /var/lib/kubelet/ with no kubelet",
    check=_check_kubelet_mounts,
    tags=("teardown", "kubeadm", "kubekey", "kubespray"),
    applies_to="all versions",
)
