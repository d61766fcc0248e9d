"""bridge-netfilter: bridged pod traffic bypasses iptables: ``br_netfilter`` is not loaded or
``net.bridge.bridge-nf-call-iptables`` is 0, where kubeadm 1.29 or older requires it before
``init``/``join``, or where the node's CNI attaches pods to a Linux bridge (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.network import cni_in_use
from nodedoctor.facts.sysctl import BRIDGE_NF_CALL_IPTABLES, sysctl_facts
from nodedoctor.facts.target import target_facts
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._target_common import deployer_takes_care
from nodedoctor.rules.base import Rule, SkipRuleError

MODULE = "br_netfilter"
KUBEADM_ERROR = (
    "[ERROR FileContent--proc-sys-net-bridge-bridge-nf-call-iptables]: "
    "/proc/sys/net/bridge/bridge-nf-call-iptables"
)
KUBE_PROXY_LOG = (
    "Missing br-netfilter module or unset sysctl br-nf-call-iptables, proxy may not work as "
    "intended"
)


def _check_bridge_netfilter(facts: Facts) -> Iterator[Issue]:
    sc = facts.get(sysctl_facts)  # read first: a bundle records what a check read
    value = sc.value(BRIDGE_NF_CALL_IPTABLES)
    t = facts.get(target_facts)
    if deployer_takes_care(facts, t, "bridge_netfilter", "bridge netfilter") is not None:
        return
    before = t.before_install or t.before_kubeadm_join
    context = [e for e in (t.deployer_evidence,) if e is not None]
    if before:
        # Only kubeadm leaves it to the node (facts/preparation.py); it checks it up to 1.29.
        if t.kubernetes_version is None:
            raise SkipRuleError(
                "kubeadm 1.29 and older stop without it, later releases leave it to the CNI; "
                "the version to be installed is unknown (--kubernetes-version gives it)"
            )
        if t.kubernetes_version >= (1, 30):
            return
        if t.version_evidence is not None:
            context.append(t.version_evidence)
        severity = Severity.ERROR
        why = f"kubeadm {t.minor_text} checks it at `kubeadm init` and `kubeadm join`"
    else:
        cni = facts.get(cni_in_use)
        if cni.config is None:
            if cni.path is not None and facts.parse_failed(cni.path):
                raise SkipRuleError(f"{cni.path} cannot be parsed")
            raise SkipRuleError(f"no CNI configuration in {cni.directory} yet")
        bridge = cni.bridge_evidence
        if bridge is None:
            return  # no Linux bridge: pod traffic is routed, iptables sees it
        context.append(bridge)
        severity = Severity.WARNING
        why = (
            f"the CNI configuration {cni.path} attaches pods to a Linux bridge "
            f"({cni.config.bridge if cni.config else 'bridge'})"
        )
    if value.present is None:
        raise SkipRuleError(value.unknown)
    if value.value == "1":
        return
    if value.present is False:
        state = f"{MODULE} is not loaded (/proc/sys/net/bridge does not exist)"
        kubeadm = f"{KUBEADM_ERROR} does not exist"
    else:
        state = f"{BRIDGE_NF_CALL_IPTABLES} is {value.value}"
        kubeadm = f"{KUBEADM_ERROR} contents are not set to 1"
    message = f"{state}, and {why}: traffic between pods on the same bridge is not seen by iptables"
    if before:
        message += f"; kubeadm stops with `{kubeadm}`"
    else:
        message += f"; kube-proxy logs `{KUBE_PROXY_LOG}`"
    from nodedoctor.remedies.sysctl import (  # only for a finding
        SYSCTL_DROPIN,
        edited_files,
        module_and_sysctl_remedy,
        modules_file,
    )

    remedy = module_and_sysctl_remedy(facts, MODULE, ((BRIDGE_NF_CALL_IPTABLES, "1"),), RULE.id)
    yield Issue(
        title=(
            f"{MODULE} is not loaded"
            if value.present is False
            else f"{BRIDGE_NF_CALL_IPTABLES} is 0"
        )
        + ": bridged pod traffic bypasses iptables",
        message=message,
        evidence=(*(e for e in (value.evidence,) if e is not None), *context),
        severity=severity,
        fix=FixHint(
            summary=(
                f"load {MODULE} now and at boot (a line in /etc/modules-load.d/*.conf, then "
                f"`modprobe {MODULE}`) and set {BRIDGE_NF_CALL_IPTABLES} = 1 in a drop-in of "
                "/etc/sysctl.d applied with `sysctl --system` (the Kubernetes documentation's "
                "k8s.conf files)"
            ),
            files=edited_files(remedy) or (modules_file(MODULE), SYSCTL_DROPIN),
            commands=(f"modprobe {MODULE}", "sysctl --system"),
            reboot=not facts.running,
        ),
        impact=(
            f"kubeadm 1.29 and older stop at preflight (`{kubeadm}`); with a bridge CNI, a pod "
            "reaching a Service whose endpoint is on the same bridge gets no reply (replies "
            "skip kube-proxy's NAT), so DNS to a CoreDNS pod on the same node times out"
        ),
        remedy=remedy,
    )


RULE = Rule(
    id="bridge-netfilter",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title="bridged pod traffic bypasses iptables (br_netfilter, bridge-nf-call-iptables)",
    check=_check_bridge_netfilter,
    tags=("network", "sysctl", "kernel-module", "kube-proxy", "preflight"),
    applies_to=(
        "error before kubeadm 1.29 and older init/join (kubeadm 1.30 dropped the check); "
        "warning where the node's CNI uses a Linux bridge (bridge, flannel)"
    ),
)
