"""kubeadm-init-blocked: files of a torn-down kubeadm node stop the next kubeadm init or join."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.kubeadm_leftovers import kubeadm_leftovers
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError


def _joined(commands: list[str]) -> str:
    """``kubeadm init`` and ``kubeadm join``, in the current language."""
    text = commands[0]
    for other in commands[1:]:
        text = _("{command} and {other_command}").format(command=text, other_command=other)
    return text


def _check_kubeadm_init_blocked(facts: Facts) -> Iterator[Issue]:
    found = facts.get(kubeadm_leftovers)
    if not found.blockers:
        return
    if not found.gone:
        if facts.get(teardown_facts).kubelet.running is True:
            return  # a kubeadm node in service: these are its own files
        raise SkipRuleError(found.reason)
    kubelet = facts.get(teardown_facts).kubelet
    stops = sorted({b.stops for b in found.blockers})
    commands = _joined([f"'kubeadm {s}'" for s in stops])
    checks = ", ".join(b.check for b in found.blockers[:4])
    if len(found.blockers) > 4:
        checks = _("{checks} and {n} more").format(checks=checks, n=len(found.blockers) - 4)
    yield Issue(
        title=_("{n} file(s) of a torn-down cluster stop the next {commands}").format(
            n=len(found.blockers), commands=_joined([f"kubeadm {s}" for s in stops])
        ),
        message=_(
            "{kubelet}, but files of the old cluster remain: the preflight of "
            "{commands} stops with {checks}. 'kubeadm reset' removes them (a reset "
            "that stopped half way, or a teardown by other means, leaves them)"
        ).format(kubelet=kubelet.describe(), commands=commands, checks=checks),
        evidence=(*(b.evidence for b in found.blockers), *kubelet.evidence[:1]),
        fix=FixHint(
            summary=_(
                "run 'kubeadm reset -f', or move the old cluster's files away: the "
                "manifests, kubeconfigs and PKI under /etc/kubernetes and the contents of "
                "/var/lib/etcd (nodedoctor clean --apply keeps them in its journal)"
            ),
            available=False,
            commands=("kubeadm reset -f",),
        ),
        impact=_(
            "{commands} fails at preflight; '--ignore-preflight-errors' would start the "
            "new control plane with the old cluster's PKI and etcd data"
        ).format(commands=commands),
    )


RULE = Rule(
    id="kubeadm-init-blocked",
    severity=Severity.WARNING,
    highest=Severity.WARNING,
    clean_removes=True,
    title=N_("files of a torn-down kubeadm node stop the next kubeadm init or join"),
    check=_check_kubeadm_init_blocked,
    tags=("teardown", "kubeadm", "preflight"),
    applies_to=N_("kubeadm 1.9 and newer (the preflight check names)"),
)
