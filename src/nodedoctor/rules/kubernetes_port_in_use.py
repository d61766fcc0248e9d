"""kubernetes-port-in-use: a port the node's Kubernetes components must listen on is held by
another process (kubeadm's ``PortOpenCheck``: ``Port-6443``, ``Port-10250`` ...).

Every node needs the kubelet's 10250; a control plane also 6443, 10257 and 10259, and 2379-2380
where etcd runs on it (the node's own files say which: ``facts/ports.py``). A port held by a
Kubernetes process (the component itself, or k3s, RKE2 or kubelite that embed it) is the
healthy state of a running node, not a conflict.
"""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.ports import PORTS, PortListener, kubernetes_ports, node_role
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

WORKER_PORTS = (10250,)
CONTROL_PLANE_PORTS = (6443, 10257, 10259)
ETCD_PORTS = (2379, 2380)
#: The finding's texts (``{who}``: the component, facts/ports.py PORTS); the kubelet's port
#: has its own, so that a translation need not build a sentence around "the kubelet".
_TEXTS = {
    "title": N_("port {port}, which {who} needs, is held by {owners}"),
    "message": N_("{owners} listens on TCP port {port}, where {who} must listen"),
    "kubeadm": N_(
        "{owners} listens on TCP port {port}, where {who} must listen: kubeadm's preflight "
        'stops with "[ERROR Port-{port}]: Port {port} is in use"'
    ),
    "impact": N_('{who} fails to start with "bind: address already in use"'),
}
_KUBELET_TEXTS = {
    "title": N_("port {port}, which the kubelet needs, is held by {owners}"),
    "message": N_("{owners} listens on TCP port {port}, where the kubelet must listen"),
    "kubeadm": N_(
        "{owners} listens on TCP port {port}, where the kubelet must listen: kubeadm's "
        'preflight stops with "[ERROR Port-{port}]: Port {port} is in use"'
    ),
    "impact": N_('the kubelet fails to start with "bind: address already in use"'),
}
#: The components PORTS names in words rather than by their program's name.
_IN_WORDS = {2379: N_("etcd (clients)"), 2380: N_("etcd (peers)")}


def _check(facts: Facts) -> Iterator[Issue]:
    ports = facts.get(kubernetes_ports)
    if ports.listeners is None:
        raise SkipRuleError(ports.unknown or _("the node's listening sockets are unknown"))
    role = facts.get(node_role)
    kubeadm = facts.get(deployer_profile).name in (None, "kubeadm", "kubekey", "kubespray")
    wanted = list(WORKER_PORTS)
    role_evidence: list[Evidence] = []
    if role.control_plane is not None:
        wanted += CONTROL_PLANE_PORTS
        role_evidence.append(Evidence(role.control_plane, "present: a control-plane node"))
    if role.etcd is not None:
        wanted += ETCD_PORTS
        role_evidence.append(Evidence(role.etcd, "present: etcd runs on this node"))
    by_port: dict[int, list[PortListener]] = {}
    for listener in ports.listeners:
        if listener.port in wanted:
            by_port.setdefault(listener.port, []).append(listener)
    unknown: list[str] = []
    issues: list[Issue] = []
    for port in sorted(by_port):
        listeners = by_port[port]
        foreign = [x for x in listeners if x.owner is not None and not x.owner.kubernetes]
        if not foreign:
            unknown += [
                _("port {port}: {reason}").format(port=port, reason=x.owner_unknown)
                for x in listeners
                if x.owner is None
            ]
            continue
        owners = ", ".join(
            sorted({f"{x.owner.comm} (pid {x.owner.pid})" for x in foreign if x.owner})
        )
        texts = _KUBELET_TEXTS if port == 10250 else _TEXTS
        who = _(_IN_WORDS[port]) if port in _IN_WORDS else PORTS[port]
        evidence = [
            Evidence(
                x.source, f"{x.socket.address}:{port} LISTEN inode {x.socket.inode}", x.socket.line
            )
            for x in foreign
        ]
        evidence += [
            Evidence(f"/proc/{x.owner.pid}/fd", f"{x.owner.comm} holds socket:[{x.socket.inode}]")
            for x in foreign
            if x.owner
        ]
        issues.append(
            Issue(
                title=_(texts["title"]).format(port=port, who=who, owners=owners),
                message=_(texts["kubeadm" if kubeadm else "message"]).format(
                    port=port, who=who, owners=owners
                ),
                evidence=(*evidence, *role_evidence),
                severity=Severity.ERROR,
                impact=_(texts["impact"]).format(who=who),
                fix=FixHint(
                    summary=_(
                        "stop and disable what listens on {port} ({owners}), or move it to "
                        "another port; if it is a Kubernetes component of an earlier install "
                        "under another name, tear that install down first (kubeadm reset, "
                        "k3s-uninstall.sh, microk8s remove)"
                    ).format(port=port, owners=owners)
                ),
            )
        )
    if unknown and not issues:
        raise SkipRuleError("; ".join(unknown))
    yield from issues


RULE = Rule(
    id="kubernetes-port-in-use",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("a port Kubernetes needs on this node is held by another process"),
    check=_check,
    tags=("network", "preflight"),
)
