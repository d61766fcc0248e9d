"""kubeadm's configuration file (``kubeadm init --config FILE``): the cluster's Kubernetes
version, ``kubernetesVersion`` of its ``ClusterConfiguration`` document, and kube-proxy's mode,
``mode`` (and ``ipvs.scheduler``) of its ``KubeProxyConfiguration`` document. KubeKey writes it to
``/etc/kubernetes/kubeadm-config.yaml`` (kubesphere/kubekey cmd/kk/pkg/kubernetes/templates/
kubeadm_config.go: ``kubernetesVersion: {{ .Version }}``); a joining node's file holds only a
``JoinConfiguration``, without it.

Read line by line (a top-level key of a top-level document), so a file of several documents
costs no YAML loader and never fails: what is not understood is simply not a version.

>>> c = parse_kubeadm_config('''---
... apiVersion: kubeadm.k8s.io/v1beta3
... kind: ClusterConfiguration
... etcd:
...   local:
...     imageTag: 3.5.9
... kubernetesVersion: v1.28.15   # the cluster
... ---
... apiVersion: kubeadm.k8s.io/v1beta3
... kind: InitConfiguration
... ''')
>>> c.kubernetes_version, c.line, c.text
('v1.28.15', 7, 'kubernetesVersion: v1.28.15   # the cluster')
>>> join = parse_kubeadm_config('kind: JoinConfiguration\\nkubernetesVersion: v1.28.15\\n')
>>> join.kubernetes_version is None
True
>>> p = parse_kubeadm_config('kind: KubeProxyConfiguration\\nipvs:\\n  scheduler: "wrr"\\n'
...                          'mode: ipvs\\n').proxy
>>> p.mode, p.line, p.scheduler
('ipvs', 4, 'wrr')
>>> parse_kubeadm_config('kind: KubeProxyConfiguration\\n').proxy.mode
''
"""

from __future__ import annotations

from nodedoctor._record import record


@record
class KubeProxySettings:
    """``mode`` of a KubeProxyConfiguration document (``""`` when it sets none: kube-proxy's
    default, iptables on Linux) and ``ipvs.scheduler`` (``""``: round robin)."""

    mode: str
    line: int | None = None
    text: str | None = None
    scheduler: str = ""


@record
class KubeadmConfig:
    #: ``kubernetesVersion`` of the ClusterConfiguration as written (``v1.28.15``), or ``None``.
    kubernetes_version: str | None
    line: int | None = None
    text: str | None = None
    #: The KubeProxyConfiguration document, when the file has one.
    proxy: KubeProxySettings | None = None


def _scalar(raw: str) -> str:
    value = raw.split(" #", 1)[0].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def parse_kubeadm_config(text: str) -> KubeadmConfig:
    documents: list[list[tuple[int, str]]] = [[]]
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.rstrip() == "---":
            documents.append([])
        else:
            documents[-1].append((lineno, line))
    version: tuple[str, int, str] | None = None
    proxy: KubeProxySettings | None = None
    for lines in documents:
        kind: str | None = None
        found: tuple[str, int, str] | None = None
        mode: tuple[str, int, str] | None = None
        scheduler = ""
        section = ""
        for lineno, line in lines:
            if line[:1] in (" ", "\t"):
                key, sep, raw = line.strip().partition(":")
                if section == "ipvs" and sep and key == "scheduler":
                    scheduler = _scalar(raw)
                continue
            if line[:1] in ("", "#"):
                continue  # blank or a comment
            key, sep, raw = line.partition(":")
            if not sep:
                continue
            section = key
            if key == "kind":
                kind = _scalar(raw)
            elif key == "kubernetesVersion":
                found = (_scalar(raw), lineno, line.strip())
            elif key == "mode":
                mode = (_scalar(raw), lineno, line.strip())
        if kind == "ClusterConfiguration" and found is not None and found[0] and version is None:
            version = found
        if kind == "KubeProxyConfiguration" and proxy is None:
            if mode is None:
                proxy = KubeProxySettings("", scheduler=scheduler)
            else:
                proxy = KubeProxySettings(mode[0], mode[1], mode[2], scheduler)
    if version is None:
        return KubeadmConfig(None, proxy=proxy)
    return KubeadmConfig(*version, proxy=proxy)
