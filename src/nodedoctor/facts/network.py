"""The pod network as the node's files show it: the CNI configuration the runtime uses, and
whether the cluster is configured for IPv6 (single or dual stack).

CNI: the runtime loads the first file, in name order, with the extension ``.conf``,
``.conflist`` or ``.json`` of its CNI configuration directory (libcni ``ConfFiles``;
containerd's and CRI-O's default ``/etc/cni/net.d``; k3s's and MicroK8s's own directories,
``cni_conf_dir`` of facts/deployers.py). facts/cni.py lists every cluster CNI's files for the
teardown rules; this is only the one in use.

IPv6: a CIDR with a ``:`` in what the cluster's files say: kubeadm's configuration
(``podSubnet``/``serviceSubnet``, KubeKey keeps it in ``/etc/kubernetes/kubeadm-config.yaml``),
the control plane's static pods (``--service-cluster-ip-range``, ``--cluster-cidr``), k3s's and
RKE2's ``cluster-cidr``/``service-cidr``. A worker of a kubeadm cluster keeps none of these:
there it is unknown, and the IPv6 checks are not made.
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.deployers import KUBEADM
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.model import Evidence
from nodedoctor.parsers.cni import CNI_CONFIG_SUFFIXES, CniConfig, parse_cni_config

#: Files and the settings in them that name the cluster's CIDRs.
IPV6_SOURCES = (
    ("/etc/kubernetes/kubeadm-config.yaml", ("podSubnet", "serviceSubnet")),
    ("/etc/kubernetes/manifests/kube-apiserver.yaml", ("--service-cluster-ip-range",)),
    ("/etc/kubernetes/manifests/kube-controller-manager.yaml", ("--cluster-cidr",)),
    ("/etc/rancher/k3s/config.yaml", ("cluster-cidr", "service-cidr")),
    ("/etc/rancher/rke2/config.yaml", ("cluster-cidr", "service-cidr")),
)


@record
class CniInUse:
    """The CNI configuration the runtime uses: the first file, by name, of the deployer's
    configuration directory (``None``: no configuration there yet)."""

    directory: str
    path: str | None
    config: CniConfig | None

    @property
    def bridge_evidence(self) -> Evidence | None:
        c = self.config
        if c is None or c.bridge is None or self.path is None:
            return None
        plugins = ", ".join(c.types)
        return Evidence(self.path, f'network "{c.name}", plugins: {plugins}')


def cni_in_use(facts: Facts) -> CniInUse:
    deployer = facts.get(deployer_profile).deployer or KUBEADM
    directory = deployer.cni_conf_dir
    names = [
        p
        for p in facts.root.glob(directory, "*")
        if p.endswith(CNI_CONFIG_SUFFIXES) and not facts.root.is_dir(p)
    ]
    if not names:
        return CniInUse(directory, None, None)
    return CniInUse(directory, names[0], facts.parse(names[0], parse_cni_config))


def _ipv6_cidr(line: str, key: str) -> bool:
    """Whether ``line`` sets ``key`` (``key: v``, ``key=v``, ``- --key=v``) to a value with an
    IPv6 CIDR.

    >>> _ipv6_cidr('    - --cluster-cidr=10.244.0.0/16,fd00:10:244::/56', '--cluster-cidr')
    True
    >>> _ipv6_cidr('  podSubnet: 10.244.0.0/16 # v4', 'podSubnet')
    False
    >>> _ipv6_cidr('cluster-cidr: "10.42.0.0/16,2001:cafe:42::/56"', 'cluster-cidr')
    True
    """
    m = re.search(rf"(?:^|[\s\"'-]){re.escape(key)}\"?\s*[:=]\s*(\S+)", line)
    if m is None:
        return False
    value = m.group(1).split("#", 1)[0]
    return any(":" in part and "/" in part for part in value.strip("\"'").split(","))


def ipv6_configured(facts: Facts) -> Evidence | None:
    """The line that configures the cluster for IPv6, or ``None`` (IPv4 only, or unknown)."""
    for path, keys in IPV6_SOURCES:
        text = facts.read(path)
        if not text:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if any(_ipv6_cidr(line, key) for key in keys):
                return file_evidence(path, line, lineno)
    return None
