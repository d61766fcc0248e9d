"""cni-network-left: a torn-down cluster's pod network on the node: the CNIs' state (IPAM
reservations, Calico's node name, Flannel's subnet) and the interfaces CNIs and kube-proxy made."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cni import MODULE_DEVICES, bridge_conflict, cni_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._teardown_common import MAX_EVIDENCE
from nodedoctor.rules.base import Rule


def _bridge_conflict(facts: Facts) -> Iterator[Issue]:
    conflict = facts.get(bridge_conflict)
    if conflict is None:
        return
    yield Issue(
        title=_("{bridge} keeps an address of an old cluster: no new pod gets a network").format(
            bridge=conflict.bridge
        ),
        message=_(
            "the container runtime loads Flannel's configuration, whose bridge plugin wants "
            "{bridge} to carry {wanted} (the subnet Flannel gave this node), "
            "but {bridge} has {addresses}, the address of an "
            "earlier cluster or subnet (a kubeadm reset or re-join does not delete the bridge). "
            "The plugin refuses it for every new pod: {error}"
        ).format(
            bridge=conflict.bridge,
            wanted=conflict.wanted,
            addresses=", ".join(conflict.addresses),
            error=f'\'"{conflict.bridge}" already has an IP address different from '
            f"{conflict.wanted}'",
        ),
        evidence=conflict.evidence,
        severity=Severity.ERROR,
        fix=FixHint(
            summary=_(
                "delete {bridge}; the bridge plugin creates it again with the "
                "right address for the next pod"
            ).format(bridge=conflict.bridge),
            available=False,
            commands=(f"ip link delete {conflict.bridge}",),
        ),
        impact=_("pods on this node stay in ContainerCreating with FailedCreatePodSandBox"),
    )


def _check_cni_network_left(facts: Facts) -> Iterator[Issue]:
    kubelet = facts.get(teardown_facts).kubelet
    if kubelet.running is True:
        yield from _bridge_conflict(facts)
        return
    if not kubelet.removed:
        return  # the stopped cluster's own pod network
    cni = facts.get(cni_facts)
    if cni.state:
        yield Issue(
            title=_("{n} CNI state director(ies) of a torn-down cluster left").format(
                n=len(cni.state)
            ),
            message=_(
                "{paths} remain and {kubelet}: "
                "the next cluster's CNI starts from the old cluster's state. host-local IPAM "
                "keeps the old pods' addresses reserved in /var/lib/cni/networks until its "
                "range is exhausted ('no IP addresses available in range set'); Calico takes "
                "its node name from /var/lib/calico/nodename; the Flannel plugin reads "
                "/run/flannel/subnet.env until the new flanneld rewrites it"
            ).format(paths=", ".join(s.path for s in cni.state), kubelet=kubelet.describe()),
            evidence=(*(s.evidence for s in cni.state), *kubelet.evidence[:1]),
            severity=Severity.WARNING,
            fix=FixHint(
                summary=_(
                    "move the old state away before the next install (nodedoctor clean "
                    "--apply keeps it in its journal)"
                ),
                available=False,
                commands=tuple(f"rm -rf {s.path}" for s in cni.state if s.whole),
            ),
            impact=_(
                "pods of the next cluster get no address, or addresses and a node name "
                "of the old one"
            ),
        )
    interfaces = list(cni.interfaces)
    if interfaces:
        removable = [i for i in interfaces if i.removable]
        kept = [i for i in interfaces if not i.removable]
        shown = interfaces[:MAX_EVIDENCE]
        names = ", ".join(i.name for i in shown) + (", ..." if len(interfaces) > len(shown) else "")
        message = _(
            "{n} network interface(s) that CNIs and kube-proxy create remain ({names}) "
            "and {kubelet}. The bridge plugin reuses an existing cni0 and fails when "
            "it has the old cluster's address ('\"cni0\" already has an IP address different "
            "from ...'); an old flannel.1 or vxlan.calico keeps the old VTEP and routes"
        ).format(n=len(interfaces), names=names, kubelet=kubelet.describe())
        if kept:
            message = _(
                "{message}; {kept} belongs to a kernel module ({modules}) and goes only "
                "with it (modprobe -r, or a reboot)"
            ).format(
                message=message,
                kept=", ".join(i.name for i in kept),
                modules=", ".join(sorted({MODULE_DEVICES[i.name] for i in kept})),
            )
        evidence: tuple[Evidence, ...] = (
            *(i.evidence for i in shown),
            *kubelet.evidence[:1],
        )
        yield Issue(
            title=_("{n} network interface(s) of a torn-down cluster left").format(
                n=len(interfaces)
            ),
            message=message,
            evidence=evidence,
            severity=Severity.WARNING,
            fix=FixHint(
                summary=_(
                    "delete the interfaces (nodedoctor clean --apply; the next CNI creates its own)"
                ),
                available=False,
                commands=tuple(f"ip link delete {i.name}" for i in removable[:MAX_EVIDENCE]),
            ),
            impact=_(
                "pods of the next cluster fail to start ('failed to set bridge addr') or "
                "route through the old cluster's tunnels"
            ),
        )


RULE = Rule(
    id="cni-network-left",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    clean_removes=True,
    title=N_("pod network state and interfaces of a torn-down cluster are left"),
    check=_check_cni_network_left,
    tags=("teardown", "cni", "flannel", "calico", "cilium"),
    applies_to=N_(
        "all versions; leftovers where the cluster is gone (warning), and a CNI bridge "
        "with an old cluster's address under a running kubelet (error)"
    ),
)
