"""kubelet-mounts-left: pod volume mounts left under /var/lib/kubelet/ with no kubelet."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.teardown import Leftover
from nodedoctor.i18n import N_, _
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
            _(
                "{n} mount(s) under {dir}/ and the kubelet's configuration is still there, "
                "but whether the kubelet runs cannot be told: {reason}"
            ).format(n=len(mounts), dir=td.kubelet_dir, reason=td.kubelet.unknown_reason)
        )
    if not gone:
        return
    deepest = sorted(mounts, key=lambda m: (-m.depth, -m.mount.line))
    kinds = sorted({m.mount.fstype for m in mounts})
    shown = deepest[:MAX_EVIDENCE]
    evidence: tuple[Evidence, ...] = (
        *(m.evidence for m in shown),
        *td.kubelet.evidence[:2],
    )
    summary = _(
        "unmount every mount under {dir}/, deepest first, as 'kubeadm reset' "
        "does, then remove the directory's contents"
    ).format(dir=td.kubelet_dir)
    if not td.kubelet.removed:
        summary = _(
            "if the node stays in the cluster, start the kubelet (it unmounts the volumes of "
            "pods that are gone); if it is being torn down, {summary}"
        ).format(summary=summary)
    if len(mounts) > len(shown):
        where = _("{n} mount(s) ({kinds}) remain under {dir}/ (showing {shown})").format(
            n=len(mounts), kinds=", ".join(kinds), dir=td.kubelet_dir, shown=len(shown)
        )
    else:
        where = _("{n} mount(s) ({kinds}) remain under {dir}/").format(
            n=len(mounts), kinds=", ".join(kinds), dir=td.kubelet_dir
        )
    yield Issue(
        title=_("{n} mount(s) left under {dir}/ with no kubelet running").format(
            n=len(mounts), dir=td.kubelet_dir
        ),
        message=_(
            "{mounts} and {kubelet}: pod volumes and projected secrets that only the "
            "kubelet unmounts. Deleting {dir} fails ('Device or resource busy') "
            "or reaches into the mounted volumes"
        ).format(mounts=where, kubelet=td.kubelet.describe(), dir=td.kubelet_dir),
        evidence=evidence,
        fix=FixHint(
            summary=summary,
            available=False,
            commands=tuple(f"umount {m.mount_point}" for m in deepest)
            if len(deepest) <= MAX_EVIDENCE
            else (_UMOUNT_ALL.format(dir=td.kubelet_dir),),
        ),
        impact=_("a reinstall or 'rm -rf /var/lib/kubelet' fails; volume data can be deleted"),
    )


RULE = Rule(
    id="kubelet-mounts-left",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("mounts left under /var/lib/kubelet/ with no kubelet"),
    check=_check_kubelet_mounts,
    tags=("teardown", "kubeadm", "kubekey", "kubespray"),
    applies_to=N_("all versions"),
)
