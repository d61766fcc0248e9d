"""containerd-cri-disabled: containerd runs without its CRI plugin (research runtimes.md §1.6)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.runtime import runtime_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._runtime_common import installed_containerd
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_cri_disabled(facts: Facts) -> Iterator[Issue]:
    c = installed_containerd(facts)
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError(_("no kubelet is installed: containerd without CRI is fine for Docker"))
    r = facts.get(runtime_facts)
    if r.name not in ("containerd", None):
        raise SkipRuleError(_("the kubelet uses {runtime}, not containerd").format(runtime=r.name))
    if c.cri is None:
        if c.unknown and c.cri is None and not c.files:
            raise SkipRuleError(c.unknown)
        return
    endpoint = r.endpoint.value if r.endpoint else c.endpoint
    from nodedoctor.remedies.containerd import cri_disabled_remedy  # only for a finding

    yield Issue(
        title=_("containerd runs without its CRI plugin"),
        message=_(
            "{reason}; the kubelet at {endpoint} gets `unknown service runtime.v1.RuntimeService`"
        ).format(reason=c.cri.reason, endpoint=endpoint),
        evidence=c.cri.evidence,
        fix=FixHint(
            summary=c.cri.fix,
            available=False,
            files=(c.cri.file,),
            restart=("containerd", "kubelet"),
            commands=("systemctl restart containerd",),
        ),
        impact=_(
            "kubeadm preflight fails (`[ERROR CRI]: container runtime is not running`) and the "
            "kubelet exits: `validate service connection: validate CRI v1 runtime API for "
            "endpoint`"
        ),
        remedy=cri_disabled_remedy(facts),
    )


RULE = Rule(
    id="containerd-cri-disabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("containerd's CRI plugin is disabled or fails to load"),
    check=_check_cri_disabled,
    tags=("containerd", "cri", "runtime"),
    applies_to=N_("containerd 1.x and 2.x on nodes with a kubelet"),
)
