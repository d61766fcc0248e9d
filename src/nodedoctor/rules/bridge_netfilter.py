"""bridge-netfilter: bridged pod traffic bypasses iptables: ``br_netfilter`` is not loaded or
``net.bridge.bridge-nf-call-iptables`` is 0, where kubeadm 1.29 or older requires it before
``init``/``join``, or where the node's CNI attaches pods to a Linux bridge (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.network import cni_in_use
from nodedoctor.facts.sysctl import BRIDGE_NF_CALL_IPTABLES, sysctl_facts
from nodedoctor.facts.target import target_facts
from nodedoctor.i18n import N_, _
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
    if deployer_takes_care(facts, t, "bridge_netfilter", _("bridge netfilter")) is not None:
        return
    before = t.before_install or t.before_kubeadm_join
    context = [e for e in (t.deployer_evidence,) if e is not None]
    if before:
        # Only kubeadm leaves it to the node (facts/preparation.py); it checks it up to 1.29.
        if t.kubernetes_version is None:
            raise SkipRuleError(
                _(
                    "kubeadm 1.29 and older stop without it, later releases leave it to the "
                    "CNI; the version to be installed is unknown (--kubernetes-version gives it)"
                )
            )
        if t.kubernetes_version >= (1, 30):
            return
        if t.version_evidence is not None:
            context.append(t.version_evidence)
        severity = Severity.ERROR
        why = _("kubeadm {version} checks it at `kubeadm init` and `kubeadm join`").format(
            version=t.minor_text
        )
    else:
        cni = facts.get(cni_in_use)
        if cni.config is None:
            if cni.path is not None and facts.parse_failed(cni.path):
                raise SkipRuleError(_("{path} cannot be parsed").format(path=cni.path))
            raise SkipRuleError(
                _("no CNI configuration in {directory} yet").format(directory=cni.directory)
            )
        bridge = cni.bridge_evidence
        if bridge is None:
            return  # no Linux bridge: pod traffic is routed, iptables sees it
        context.append(bridge)
        severity = Severity.WARNING
        why = _("the CNI configuration {path} attaches pods to a Linux bridge ({bridge})").format(
            path=cni.path, bridge=cni.config.bridge if cni.config else "bridge"
        )
    if value.present is None:
        raise SkipRuleError(value.unknown)
    if value.value == "1":
        return
    if value.present is False:
        state = _("{module} is not loaded (/proc/sys/net/bridge does not exist)").format(
            module=MODULE
        )
        kubeadm = f"{KUBEADM_ERROR} does not exist"
        title = _("{module} is not loaded: bridged pod traffic bypasses iptables").format(
            module=MODULE
        )
    else:
        state = _("{key} is {value}").format(key=BRIDGE_NF_CALL_IPTABLES, value=value.value)
        kubeadm = f"{KUBEADM_ERROR} contents are not set to 1"
        title = _("{key} is 0: bridged pod traffic bypasses iptables").format(
            key=BRIDGE_NF_CALL_IPTABLES
        )
    if before:
        message = _(
            "{state}, and {why}: traffic between pods on the same bridge is not seen by "
            "iptables; kubeadm stops with `{kubeadm}`"
        ).format(state=state, why=why, kubeadm=kubeadm)
    else:
        message = _(
            "{state}, and {why}: traffic between pods on the same bridge is not seen by "
            "iptables; kube-proxy logs `{log}`"
        ).format(state=state, why=why, log=KUBE_PROXY_LOG)
    from nodedoctor.remedies.sysctl import (  # only for a finding
        SYSCTL_DROPIN,
        edited_files,
        module_and_sysctl_remedy,
        modules_file,
    )

    remedy = module_and_sysctl_remedy(facts, MODULE, ((BRIDGE_NF_CALL_IPTABLES, "1"),), RULE.id)
    yield Issue(
        title=title,
        message=message,
        evidence=(*(e for e in (value.evidence,) if e is not None), *context),
        severity=severity,
        fix=FixHint(
            summary=_(
                "load {module} now and at boot (a line in /etc/modules-load.d/*.conf, then "
                "`modprobe {module}`) and set {key} = 1 in a drop-in of "
                "/etc/sysctl.d applied with `sysctl --system` (the Kubernetes documentation's "
                "k8s.conf files)"
            ).format(module=MODULE, key=BRIDGE_NF_CALL_IPTABLES),
            files=edited_files(remedy) or (modules_file(MODULE), SYSCTL_DROPIN),
            commands=(f"modprobe {MODULE}", "sysctl --system"),
            reboot=not facts.running,
        ),
        impact=_(
            "kubeadm 1.29 and older stop at preflight (`{kubeadm}`); with a bridge CNI, a pod "
            "reaching a Service whose endpoint is on the same bridge gets no reply (replies "
            "skip kube-proxy's NAT), so DNS to a CoreDNS pod on the same node times out"
        ).format(kubeadm=kubeadm),
        remedy=remedy,
    )


RULE = Rule(
    id="bridge-netfilter",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title=N_("bridged pod traffic bypasses iptables (br_netfilter, bridge-nf-call-iptables)"),
    check=_check_bridge_netfilter,
    tags=("network", "sysctl", "kernel-module", "kube-proxy", "preflight"),
    applies_to=N_(
        "error before kubeadm 1.29 and older init/join (kubeadm 1.30 dropped the check); "
        "warning where the node's CNI uses a Linux bridge (bridge, flannel)"
    ),
)
