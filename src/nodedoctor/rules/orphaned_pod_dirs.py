"""orphaned-pod-dirs: pod directories of pods that are gone, with volume paths still in them."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.poddirs import orphaned_pod_dirs
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import MAX_EVIDENCE
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_orphaned_pod_dirs(facts: Facts) -> Iterator[Issue]:
    found = facts.get(orphaned_pod_dirs)
    if found.mode is None:
        raise SkipRuleError(found.skip_reason)
    pods = list(found.pods)
    if not pods:
        return
    kubelet = facts.get(teardown_facts).kubelet
    mounted = [p for p in pods if p.mounts]
    shown = pods[:MAX_EVIDENCE]
    evidence: list[Evidence] = []
    for p in shown:
        evidence += p.evidence
    where = ", ".join(sorted({p.path.rsplit("/", 1)[0] for p in pods}))
    if found.mode == "kubelet-log":
        total = found.kubelet_total
        if total is not None and total > len(pods):
            message = _(
                "the kubelet reports {n} pod(s) as orphaned (gone from the API server "
                "and the runtime) but cannot remove their directories in {where}: "
                "volume paths are still in them; it counts {total} such pod(s) and names only "
                "the first in each pass, so the next one appears in its log once this one is "
                "gone. It retries every two seconds and logs the same error each time"
            ).format(n=len(pods), where=where, total=total)
        else:
            message = _(
                "the kubelet reports {n} pod(s) as orphaned (gone from the API server "
                "and the runtime) but cannot remove their directories in {where}: "
                "volume paths are still in them. It retries every two seconds and "
                "logs the same error each time"
            ).format(n=len(pods), where=where)
        summary = _(
            "make sure nothing is mounted below each directory (findmnt -R DIR), then move "
            "the pod's directory away (nodedoctor clean --apply keeps it in its journal); the "
            "kubelet then stops logging it"
        )
    else:
        message = _(
            "{n} pod director(ies) with volume paths remain in {where} and "
            "{kubelet}: their pods are gone with the cluster, and no container of "
            "theirs runs"
        ).format(n=len(pods), where=where, kubelet=kubelet.describe())
        summary = _(
            "unmount what is mounted below them, then remove the pods' directories "
            "(nodedoctor clean --apply moves them into its journal), as 'kubeadm reset' "
            "does with the kubelet's directory"
        )
    if mounted:
        message = _(
            "{message}; {n} still have volumes mounted below them (kubelet-mounts-left), "
            "which must be unmounted first: a recursive delete would reach into them"
        ).format(message=message, n=len(mounted))
    yield Issue(
        title=_("{n} orphaned pod director(ies) with volume paths left").format(n=len(pods)),
        message=message,
        evidence=(*evidence, *kubelet.evidence[:1]),
        fix=FixHint(
            summary=summary,
            available=False,
            commands=(
                "mkdir -p /root/orphaned-pods",
                *(f"findmnt -R {p.path} || mv {p.path} /root/orphaned-pods/" for p in shown),
            ),
        ),
        impact=_(
            "the kubelet logs the error every two seconds, thousands of lines a day; "
            "volume data stays on the node; a recursive delete that reaches a volume still "
            "mounted deletes its data"
        ),
    )


RULE = Rule(
    id="orphaned-pod-dirs",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("pod directories left for pods that are gone, with volume paths in them"),
    check=_check_orphaned_pod_dirs,
    tags=("teardown", "kubelet", "volumes"),
    applies_to=N_("all versions; with a running kubelet, the pods its own log names as orphaned"),
)
