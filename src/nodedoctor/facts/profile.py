"""Which deployer set the node up, judged from the markers of its model
(``facts/deployers.py``), or as the user says (``--profile``).

Each deployer puts the kubelet's configuration somewhere else, runs it under another systemd
unit and chooses other defaults. What each profile changes in nodedoctor:

``kubeadm``
    The kubelet runs as ``kubelet.service`` with the ``10-kubeadm.conf`` drop-in
    (``/usr/lib/systemd/system/kubelet.service.d/`` from pkgs.k8s.io packages, or
    ``/etc/systemd/system/kubelet.service.d/``). Flags come from ``KUBELET_KUBEADM_ARGS`` in
    ``/var/lib/kubelet/kubeadm-flags.env`` and ``KUBELET_EXTRA_ARGS`` in ``/etc/default/kubelet``
    (``/etc/sysconfig/kubelet`` on the RHEL family); the config file is
    ``/var/lib/kubelet/config.yaml``. kubeadm >= 1.22 writes ``cgroupDriver: systemd`` into it
    when the user leaves it unset, so the file, not the kubelet default, usually decides.
``kubekey``
    KubeKey drives kubeadm: same files, with the binary in ``/usr/local/bin`` and the unit and
    drop-in under ``/etc/systemd/system``. Detected by ``/etc/kubekey``.
``kubespray``
    ``/etc/systemd/system/kubelet.service`` reads ``/etc/kubernetes/kubelet.env`` (``KUBELET_ARGS``
    and friends); the config file is ``/etc/kubernetes/kubelet-config.yaml``.
``kops``
    nodeup writes the unit and its environment; the kubelet is read from the unit like any other.
    Detected by ``/opt/kops`` or ``/etc/sysconfig/kops-configuration`` (nodeup's own files).
``microk8s``
    kubelite (``snap.microk8s.daemon-kubelite.service``) reads one flag per line from
    ``/var/snap/microk8s/current/args/kubelet``; there is no config file unless a ``--config``
    line names one; the version is the snap's; the driver defaults to the kubelet's
    ``cgroupfs`` (MicroK8s sets none).
``k3s``
    ``k3s.service`` (server) or ``k3s-agent.service`` runs an embedded kubelet. Flags are k3s's own
    plus ``kubelet-arg`` from ``/etc/rancher/k3s/config.yaml`` and ``config.yaml.d/*.yaml``
    (or from ``--kubelet-arg`` on its command line, which replaces them); config drop-ins in
    ``/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/`` (v1.32+); k3s itself picks the driver
    (``systemd`` when it runs as a systemd unit and ``cpuset`` is available, else ``cgroupfs``)
    and always passes ``--fail-swap-on=false``.
``rke2``
    ``rke2-server.service`` or ``rke2-agent.service`` runs ``rke2``, which starts the kubelet
    binary as a child process with k3s's agent flags (RKE2 is built on k3s): ``kubelet-arg`` from
    ``/etc/rancher/rke2/config.yaml``, drop-ins in ``/var/lib/rancher/rke2/agent/etc/
    kubelet.conf.d/``, containerd from ``/var/lib/rancher/rke2/agent/etc/containerd``.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.deployers import BY_NAME, DEPLOYERS, PROFILES, Deployer
from nodedoctor.model import Evidence

__all__ = ["PROFILES", "Profile", "deployer_profile"]


@record
class Profile:
    """The deployer: ``name`` is one of PROFILES, or ``None`` when nothing tells."""

    name: str | None
    evidence: tuple[Evidence, ...]
    #: Given with ``--profile`` rather than detected.
    forced: bool = False
    #: Every deployer whose markers are present (a node can carry leftovers of another).
    detected: tuple[str, ...] = ()

    @property
    def deployer(self) -> Deployer | None:
        """The deployer's model (facts/deployers.py)."""
        return BY_NAME.get(self.name) if self.name else None


def _marker_evidence(facts: Facts, path: str) -> Evidence | None:
    if not facts.root.exists(path):
        return None
    kind = "directory" if facts.root.is_dir(path) else "file"
    return file_evidence(path, f"{kind} present")


def deployer_profile(facts: Facts) -> Profile:
    found: list[tuple[str, Evidence]] = []
    for deployer in DEPLOYERS:
        for path in deployer.markers:
            ev = _marker_evidence(facts, path)
            if ev is not None:
                found.append((deployer.name, ev))
                break
    detected = tuple(name for name, _ in found)
    if facts.profile:
        return Profile(
            facts.profile,
            (Evidence("--profile", f"--profile {facts.profile}"),),
            forced=True,
            detected=detected,
        )
    if not found:
        return Profile(None, (), detected=())
    name, ev = found[0]
    return Profile(name, (ev,), detected=detected)
