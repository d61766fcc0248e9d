"""kube-proxy's mode, where the node's own files say it.

kube-proxy's configuration usually lives in the cluster (kubeadm's ``kube-proxy`` ConfigMap),
not on the node. The files that do carry it:

- ``/etc/kubernetes/kubeadm-config.yaml``, the ``kubeadm init --config`` file KubeKey and
  Kubespray write on control-plane nodes: ``mode`` (and ``ipvs.scheduler``) of its
  ``KubeProxyConfiguration`` document;
- k3s's and RKE2's ``config.yaml`` (and ``config.yaml.d/*.yaml``): ``proxy-mode=`` among
  ``kube-proxy-arg``;
- MicroK8s's ``/var/snap/microk8s/current/args/kube-proxy``: ``--proxy-mode``.

Anything else is "unknown". kube-proxy's default on Linux is ``iptables`` (an empty ``mode``
means it too).
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import K3S, RKE2
from nodedoctor.model import Evidence
from nodedoctor.parsers.kubeadm import parse_kubeadm_config
from nodedoctor.parsers.kubelet import parse_k3s_config, parse_microk8s_args

KUBEADM_CONFIG = "/etc/kubernetes/kubeadm-config.yaml"
MICROK8S_ARGS = "/var/snap/microk8s/current/args/kube-proxy"
IPTABLES = "iptables"


@record
class KubeProxyMode:
    #: ``iptables``, ``ipvs``, ``nftables`` ... as configured (an empty mode reads as
    #: ``iptables``), or ``None`` when no file on the node says.
    mode: str | None
    evidence: Evidence | None = None
    #: The IPVS scheduler (``rr`` unless configured).
    scheduler: str = "rr"


def _k3s_mode(facts: Facts, config: str) -> KubeProxyMode | None:
    found: KubeProxyMode | None = None
    for path in (config, *facts.root.glob(f"{config}.d", "*.yaml")):
        parsed = facts.parse(path, parse_k3s_config)
        entry = parsed.entries.get("kube-proxy-arg") if parsed is not None else None
        if entry is None:
            continue
        items = entry.value if isinstance(entry.value, list) else [entry.value]
        for item in items:
            word = str(item).strip().lstrip("-")
            if word.startswith("proxy-mode="):
                mode = word.split("=", 1)[1].strip() or IPTABLES
                found = KubeProxyMode(mode, Evidence(path, entry.text, entry.line))
    return found


def kube_proxy_mode(facts: Facts) -> KubeProxyMode:
    cluster = facts.parse(KUBEADM_CONFIG, parse_kubeadm_config)
    if cluster is not None and cluster.proxy is not None:
        proxy = cluster.proxy
        text = proxy.text or "kind: KubeProxyConfiguration (no mode: kube-proxy's default)"
        return KubeProxyMode(
            proxy.mode or IPTABLES,
            Evidence(KUBEADM_CONFIG, text, proxy.line),
            proxy.scheduler or "rr",
        )
    for deployer in (K3S, RKE2):
        if facts.root.exists(deployer.agent_config):
            found = _k3s_mode(facts, deployer.agent_config)
            if found is not None:
                return found
    words = facts.parse(MICROK8S_ARGS, parse_microk8s_args)
    for word in words or ():
        if word.word.startswith("--proxy-mode="):
            mode = word.word.split("=", 1)[1] or IPTABLES
            return KubeProxyMode(mode, Evidence(MICROK8S_ARGS, word.text, word.line))
    return KubeProxyMode(None)
