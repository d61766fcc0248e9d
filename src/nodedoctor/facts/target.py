"""What the node is being prepared for: the deployer and the Kubernetes minor version it will
install, each with where it came from.

Before anything is installed, rules that judge against the kubelet (swap, cgroup v1, the runtime's
version, the drivers) have no kubelet to read. With ``--profile`` and ``--kubernetes-version``
the user says what will come; the target fills in what they leave out:

* the deployer: ``--profile``, else the one whose markers are on the node (facts/profile.py);
* the version: ``--kubernetes-version``, else the installed kubelet's (facts/kubelet, from its
  package or kubeadm's configuration), else the deployer's current default
  (:data:`DEFAULT_VERSIONS`).

A target counts for a node without a kubelet only when the user gave one of the two flags
(:attr:`Target.declared`): a bare machine checked without them is not judged against a guess.
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence

#: Where each part of the target came from (the JSON report's ``deployer_source`` and
#: ``version_source``).
FLAG = "flag"
DETECTED = "detected"
KUBELET = "kubelet"
DEPLOYER_DEFAULT = "deployer-default"

#: The Kubernetes minor each deployer installs when told nothing, and the upstream source.
#: ``None``: the deployer follows a channel that moves (read at install time), so no version
#: can be named offline; give ``--kubernetes-version``.
DEFAULT_VERSIONS: dict[str, tuple[tuple[int, int] | None, str]] = {
    "kubeadm": (
        (1, 35),
        "kubeadm's kubernetesVersion defaults to stable-1, the newest release: v1.35 "
        "(kubernetes/kubernetes CHANGELOG/CHANGELOG-1.35.md, v1.35.0)",
    ),
    "kubespray": (
        (1, 34),
        "Kubespray's kube_version defaults to the first kubelet_checksums entry "
        "(roles/kubespray_defaults/defaults/main/main.yml), 1.34.2 in "
        "roles/kubespray_defaults/vars/main/checksums.yml (master at 118b2dce)",
    ),
    "k3s": (None, "k3s installs its stable channel (update.k3s.io), which moves"),
    "rke2": (None, "RKE2 installs its stable channel (update.rke2.io), which moves"),
    "microk8s": (None, "MicroK8s installs the snap's default track, which moves"),
    "kubekey": (None, "KubeKey's default Kubernetes version depends on its release"),
    "kops": (None, "kOps picks the newest Kubernetes its release supports"),
}

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


def parse_target_version(text: str) -> Version | None:
    """``1.35``, ``v1.35``, ``1.35.2``; ``None`` for anything else.

    >>> parse_target_version("v1.35").release, parse_target_version("1.30.4").release
    ((1, 35, 0), (1, 30, 4))
    >>> parse_target_version("latest") is None
    True
    """
    m = _VERSION.match(text.strip())
    if not m:
        return None
    return Version(text.strip(), (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)))


@record
class Target:
    deployer: str | None
    #: :data:`FLAG`, :data:`DETECTED` or ``None``.
    deployer_source: str | None
    kubernetes_version: Version | None
    #: :data:`FLAG`, :data:`KUBELET`, :data:`DEPLOYER_DEFAULT` or ``None``.
    version_source: str | None
    evidence: tuple[Evidence, ...]
    #: Why no version is known (the deployer's channel moves, no deployer ...).
    version_unknown: str = ""

    @property
    def declared(self) -> bool:
        """The user said what will be installed (``--profile`` or ``--kubernetes-version``)."""
        return FLAG in (self.deployer_source, self.version_source)

    @property
    def minor_text(self) -> str | None:
        v = self.kubernetes_version
        return f"{v.release[0]}.{v.release[1]}" if v else None

    def to_json(self) -> dict[str, object]:
        return {
            "deployer": self.deployer,
            "deployer_source": self.deployer_source,
            "kubernetes_version": self.minor_text,
            "version_source": self.version_source,
        }


def target_facts(facts: Facts) -> Target:
    profile = facts.get(deployer_profile)
    deployer = profile.name
    dsource = (FLAG if profile.forced else DETECTED) if deployer else None
    evidence = list(profile.evidence)
    version: Version | None = None
    vsource: str | None = None
    unknown = ""
    if facts.kubernetes_version:
        version = parse_target_version(facts.kubernetes_version)
        if version is not None:
            vsource = FLAG
            evidence.append(
                Evidence("--kubernetes-version", f"--kubernetes-version {facts.kubernetes_version}")
            )
    if version is None:
        k = facts.get(kubelet_facts)
        if k.installed and k.version is not None:
            version, vsource = k.version.value, KUBELET
            evidence.append(k.version.evidence)
        elif not k.installed and deployer in DEFAULT_VERSIONS:
            minor, why = DEFAULT_VERSIONS[deployer]
            if minor is not None:
                version = Version(f"{minor[0]}.{minor[1]}", (minor[0], minor[1], 0))
                vsource = DEPLOYER_DEFAULT
                evidence.append(Evidence("default", why))
            else:
                unknown = why
        elif deployer is None:
            unknown = "no deployer is named (--profile) or detected"
    return Target(deployer, dsource, version, vsource, tuple(evidence), unknown)
