"""What the node is being prepared for: the deployer and the Kubernetes minor version it will
install, each with where it came from.

Before anything is installed, rules that judge against the kubelet (swap, cgroup v1, the runtime's
version, the drivers, forwarding, bridge netfilter) have no kubelet to read. With ``--profile``
and ``--kubernetes-version`` the user says what will come; the target fills in what they leave
out:

* the deployer: ``--profile``, else the one whose markers are on the node (facts/profile.py);
* the version: ``--kubernetes-version``, else the installed kubelet's (facts/kubelet, from its
  package or kubeadm's configuration), else, with no kubelet installed, the deployer's current
  default (facts/preparation.py, each with its upstream source); a deployer that resolves its
  version online at install time (k3s's stable channel) names none.

A target counts for a node without a kubelet only when a deployer is named or detected: a bare
machine checked without ``--profile`` is not judged against a guess. An installed kubelet is
judged as it is: where ``--kubernetes-version`` names another version, the report says both
(:attr:`Target.version_note`) and the rules judge the installed kubelet (an upgrade check is
not modelled).
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.preparation import PREPARATIONS, Preparation
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

#: Where each part of the target came from (the JSON report's ``deployer_source`` and
#: ``version_source``).
FLAG = "flag"
DETECTED = "detected"
KUBELET = "kubelet"
DEPLOYER_DEFAULT = "deployer-default"

#: kubeadm and KubeKey (which drives kubeadm) write the kubelet's config.yaml at init/join.
KUBEADM_LIKE = ("kubeadm", "kubekey")

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
    #: What else is said of the version: an installed kubelet of another version than
    #: ``--kubernetes-version``.
    version_note: str = ""
    #: Where the deployer and the version came from, each alone (``None``: unknown).
    deployer_evidence: Evidence | None = None
    version_evidence: Evidence | None = None
    #: Some trace of a kubelet is on the node (facts/kubelet ``installed``).
    kubelet_installed: bool = False
    #: kubeadm's kubelet is installed but ``kubeadm init``/``join`` has not written its
    #: configuration yet: what kubeadm writes then is the target's too.
    before_kubeadm_join: bool = False

    @property
    def declared(self) -> bool:
        """The user said what will be installed (``--profile`` or ``--kubernetes-version``)."""
        return FLAG in (self.deployer_source, self.version_source)

    @property
    def minor_text(self) -> str | None:
        v = self.kubernetes_version
        return f"{v.release[0]}.{v.release[1]}" if v else None

    @property
    def preparation(self) -> Preparation | None:
        """What the deployer does itself (facts/preparation.py)."""
        return PREPARATIONS.get(self.deployer) if self.deployer else None

    @property
    def before_install(self) -> bool:
        """No kubelet yet: the deployer's install is still to come."""
        return not self.kubelet_installed

    @property
    def sourced_version(self) -> Sourced[Version] | None:
        if self.kubernetes_version is None or self.version_evidence is None:
            return None
        return Sourced(self.kubernetes_version, self.version_evidence)

    def to_json(self) -> dict[str, object]:
        return {
            "deployer": self.deployer,
            "deployer_source": self.deployer_source,
            "kubernetes_version": self.minor_text,
            "version_source": self.version_source,
            "evidence": [e.to_json() for e in self.evidence],
            "version_note": self.version_note or self.version_unknown or None,
            "kubelet_installed": self.kubelet_installed,
        }


def target_facts(facts: Facts) -> Target:
    profile = facts.get(deployer_profile)
    k = facts.get(kubelet_facts)
    deployer = profile.name
    dsource = (FLAG if profile.forced else DETECTED) if deployer else None
    deployer_ev = profile.evidence[0] if profile.evidence else None
    version: Version | None = None
    vsource: str | None = None
    version_ev: Evidence | None = None
    unknown = note = ""
    if facts.kubernetes_version:
        version = parse_target_version(facts.kubernetes_version)
        if version is not None:
            vsource = FLAG
            version_ev = Evidence(
                "--kubernetes-version", f"--kubernetes-version {facts.kubernetes_version}"
            )
            if k.version is not None and k.version.value.minor != version.minor:
                installed = k.version.value.release
                note = _(
                    "the installed kubelet is {version}: the rules judge it as installed"
                ).format(version=f"{installed[0]}.{installed[1]}")
    if version is None:
        prep = PREPARATIONS.get(deployer) if deployer else None
        if k.installed and k.version is not None:
            version, vsource, version_ev = k.version.value, KUBELET, k.version.evidence
        elif k.installed:
            unknown = _(
                "a kubelet is installed but its version cannot be told here "
                "(--kubernetes-version gives it)"
            )
        elif prep is not None and prep.default_version is not None:
            version = parse_target_version(prep.default_version)
            vsource = DEPLOYER_DEFAULT
            version_ev = Evidence(f"{deployer}'s default", prep.version_source)
        elif prep is not None:
            unknown = _(prep.version_source)  # marked N_() where only prose
        else:
            unknown = _("no deployer is named (--profile) or detected")
    evidence = tuple(e for e in (deployer_ev, version_ev) if e is not None)
    return Target(
        deployer,
        dsource,
        version,
        vsource,
        evidence,
        unknown,
        note,
        deployer_ev,
        version_ev,
        k.installed,
        bool(k.installed and k.pending and deployer in KUBEADM_LIKE),
    )
