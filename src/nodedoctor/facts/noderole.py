"""Whether the node is (or is to be) a control plane or a worker, and what says so.

In order:

1. ``--role control-plane|worker``: what the user (or the Ansible preflight role, from the
   inventory's groups) says the node is to become. Before a deployer runs, nothing on the node
   tells it.
2. A k3s or RKE2 node: its unit, ``k3s.service`` / ``rke2-server.service`` (server) or
   ``k3s-agent.service`` / ``rke2-agent.service`` (agent), as their install scripts name them;
   else the running process, ``k3s-server`` or ``k3s-agent``.
3. A node kubeadm set up (kubeadm, KubeKey, Kubespray): the static pod manifest
   ``/etc/kubernetes/manifests/kube-apiserver.yaml`` (``kubeadm init`` and ``join
   --control-plane`` write it) means a control plane; ``/etc/kubernetes/kubelet.conf`` without
   it, a worker that joined.

Otherwise the role is unknown (``None``).
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.deployers import K3S_AGENT
from nodedoctor.facts.processes import processes
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.model import Evidence

CONTROL_PLANE = "control-plane"
WORKER = "worker"
ROLES = (CONTROL_PLANE, WORKER)

KUBEADM_APISERVER = "/etc/kubernetes/manifests/kube-apiserver.yaml"
KUBEADM_KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
#: The units k3s's and RKE2's install scripts write for a server (the others are agents).
_SERVER_UNITS = frozenset({"k3s.service", "rke2-server.service"})


@record
class NodeRole:
    #: :data:`CONTROL_PLANE`, :data:`WORKER`, or ``None`` when nothing tells.
    role: str | None
    evidence: tuple[Evidence, ...] = ()
    #: Given with ``--role`` (what the node is to become), not read from the node.
    declared: bool = False

    @property
    def control_plane(self) -> bool | None:
        return None if self.role is None else self.role == CONTROL_PLANE


def _k3s_role(facts: Facts, launcher_units: tuple[str, ...]) -> NodeRole | None:
    from nodedoctor.facts.kubelet.deployers import k3s_unit  # only on k3s and RKE2 nodes

    profile = facts.get(deployer_profile)
    deployer = profile.deployer
    if deployer is None:
        return None
    unit = k3s_unit(facts, deployer)
    if unit is not None and unit in launcher_units:
        role = CONTROL_PLANE if unit in _SERVER_UNITS else WORKER
        return NodeRole(role, (Evidence(unit, f"{deployer.title} runs as {unit}"),))
    for proc in facts.get(processes).named("k3s-server", "k3s-agent"):
        role = CONTROL_PLANE if proc.comm == "k3s-server" else WORKER
        return NodeRole(role, (proc.evidence,))
    return None


def node_role(facts: Facts) -> NodeRole:
    if facts.role in ROLES:
        return NodeRole(facts.role, (Evidence("--role", f"--role {facts.role}"),), declared=True)
    deployer = facts.get(deployer_profile).deployer
    if deployer is not None and deployer.launcher == K3S_AGENT:
        return _k3s_role(facts, deployer.kubelet_units) or NodeRole(None)
    if deployer is not None and deployer.name not in ("kubeadm", "kubekey", "kubespray"):
        return NodeRole(None)
    if facts.root.exists(KUBEADM_APISERVER):
        return NodeRole(CONTROL_PLANE, (file_evidence(KUBEADM_APISERVER, "file present"),))
    if facts.root.exists(KUBEADM_KUBELET_CONF):
        return NodeRole(
            WORKER,
            (
                file_evidence(KUBEADM_KUBELET_CONF, "file present"),
                file_evidence(KUBEADM_APISERVER, "absent: no control plane here"),
            ),
        )
    return NodeRole(None)
