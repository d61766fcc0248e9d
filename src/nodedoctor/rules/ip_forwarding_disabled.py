"""ip-forwarding-disabled: ``net.ipv4.ip_forward`` is 0, so the node routes no pod traffic and
kubeadm's preflight stops (cmd/kubeadm/app/preflight/checks.go, ``addIPv4Checks``)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import BY_NAME
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.processes import processes
from nodedoctor.facts.sysctl import IP_FORWARD, sysctl_facts
from nodedoctor.facts.target import target_facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: kubeadm's preflight error (FileContentCheck on /proc/sys/net/ipv4/ip_forward).
KUBEADM_ERROR = (
    "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents "
    "are not set to 1"
)
#: Deployers whose agent sets IPv4 forwarding itself at every start: k3s
#: pkg/agent/syssetup/setup.go (kernelSysctls: net/ipv4/conf/all/forwarding = 1, the same
#: switch as ip_forward); RKE2 runs k3s's agent code.
SETS_IT_AT_START = ("k3s", "rke2")


def _check(facts: Facts) -> Iterator[Issue]:
    sc = facts.get(sysctl_facts)
    if sc.ip_forward is None:
        raise SkipRuleError("/proc/sys/net is not in this root")
    if sc.ip_forward.value != "0":
        return
    k = facts.get(kubelet_facts)
    target = facts.get(target_facts)
    deployer = k.profile.name if k.installed else target.deployer
    if not k.installed and not target.declared:
        raise SkipRuleError(
            "IPv4 forwarding is off but no kubelet is installed "
            "(give --profile to judge what will be installed)"
        )
    if deployer in SETS_IT_AT_START:
        running = facts.get(processes)
        agent = BY_NAME[deployer].kubelet_processes
        if not k.installed or not running.known or not running.named(*agent):
            return  # its agent turns forwarding on when it starts
    from nodedoctor.remedies.sysctl import SYSCTL_DROPIN, sysctl_remedy  # a finding only

    when = (
        "before kubeadm init/join: kubeadm's preflight stops with "
        if deployer in ("kubeadm", "kubespray", "kubekey") and not k.configured
        else ""
    )
    yield Issue(
        title="IPv4 forwarding is off (net.ipv4.ip_forward = 0)",
        message=(
            "the kernel does not route packets between interfaces, so pods' traffic to other "
            "nodes, Services and the outside is dropped"
            + (f"; {when}{KUBEADM_ERROR}" if when else "")
        ),
        evidence=(sc.ip_forward.evidence, *target.evidence),
        severity=Severity.ERROR,
        fix=FixHint(
            summary=f"set {IP_FORWARD} = 1 in {SYSCTL_DROPIN} and apply it with sysctl --system",
            files=(SYSCTL_DROPIN,),
            commands=("sysctl --system",),
        ),
        impact="kubeadm init/join stops; on a running node pods cannot reach other nodes or "
        "Services",
        remedy=sysctl_remedy((IP_FORWARD, "1")),
    )


RULE = Rule(
    id="ip-forwarding-disabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="IPv4 forwarding is off, so the node routes no pod traffic",
    check=_check,
    tags=("sysctl", "network", "preflight"),
    applies_to="every deployer; k3s and RKE2 turn it on when their agent starts",
)
