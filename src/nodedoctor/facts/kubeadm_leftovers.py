"""What a kubeadm node left that stops the next ``kubeadm init`` or ``kubeadm join``, with the
preflight check that stops it (kubernetes cmd/kubeadm/app/preflight/checks.go):

- ``InitNodeChecks``: a ``FileAvailableCheck`` for each control-plane static pod manifest
  (``/etc/kubernetes/manifests/{kube-apiserver,kube-controller-manager,kube-scheduler,
  etcd}.yaml``) and a ``DirAvailableCheck`` for the local etcd's data directory
  (``/var/lib/etcd`` by default);
- ``JoinNodeChecks``: a ``FileAvailableCheck`` for ``/etc/kubernetes/kubelet.conf`` and
  ``/etc/kubernetes/bootstrap-kubelet.conf``, and, joining a worker, for the CA certificate
  ``/etc/kubernetes/pki/ca.crt``.

A check's name is ``FileAvailable-`` or ``DirAvailable-`` and the path with ``/`` turned into
``-``; each failing one prints ``[ERROR <name>]: <path> already exists`` (``is not empty``).

These are leftovers only where the cluster is gone: a running control plane has all of them.
So they count when no kubelet runs and none of the kubelet's configuration is left besides the
files above (``/var/lib/kubelet/config.yaml`` and ``kubeadm-flags.env``, which ``kubeadm
reset`` removes with ``/var/lib/kubelet``, Kubespray's ``kubelet-config.yaml``, ...: the
deployer models' ``configured``): a reset that stopped half way, a teardown by other means
(``apt purge`` of the packages leaves ``/etc/kubernetes`` and ``/var/lib/etcd``), or a disk image.

``reset_leftovers`` lists, besides the blockers, what else ``kubeadm reset`` deletes and the
clean engine moves with them (cmd/kubeadm/app/cmd/phases/reset/cleanupnode.go: the contents
of ``/etc/kubernetes/manifests`` and ``/etc/kubernetes/pki``, and ``admin.conf``,
``super-admin.conf``, ``kubelet.conf``, ``bootstrap-kubelet.conf``,
``controller-manager.conf``, ``scheduler.conf``), since a new PKI beside the old kubeconfigs
stops ``kubeadm init`` later, in its kubeconfig phase.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

KUBERNETES_DIR = "/etc/kubernetes"
MANIFESTS_DIR = "/etc/kubernetes/manifests"
PKI_DIR = "/etc/kubernetes/pki"
ETCD_DATA_DIR = "/var/lib/etcd"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
JOIN_FILES = (
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/bootstrap-kubelet.conf",
    "/etc/kubernetes/pki/ca.crt",
)
#: The kubeconfigs ``kubeadm reset`` deletes.
RESET_FILES = (
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/bootstrap-kubelet.conf",
    "/etc/kubernetes/controller-manager.conf",
    "/etc/kubernetes/scheduler.conf",
)
#: Entries of a data directory or of the manifests listed: far above a node's.
MAX_ENTRIES = 1_000


def check_name(kind: str, path: str) -> str:
    """kubeadm's name of a ``FileAvailable``/``DirAvailable`` check.

    >>> check_name("FileAvailable", "/etc/kubernetes/manifests/etcd.yaml")
    'FileAvailable--etc-kubernetes-manifests-etcd.yaml'
    >>> check_name("DirAvailable", "/var/lib/etcd")
    'DirAvailable--var-lib-etcd'
    """
    return f"{kind}-{path.replace('/', '-')}"


@record
class Blocker:
    path: str
    #: The preflight check it fails (``FileAvailable--etc-kubernetes-kubelet.conf``).
    check: str
    #: What kubeadm prints after the check's name.
    message: str
    #: ``kubeadm init``, ``kubeadm join``.
    stops: str

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.path, f"[ERROR {self.check}]: {self.message}")


@record
class KubeadmLeftovers:
    #: ``True``: the cluster is gone, these are leftovers; ``False``: the kubelet runs or is
    #: still configured (``reason``).
    gone: bool
    reason: str
    blockers: tuple[Blocker, ...]
    #: Node paths ``clean`` moves away, as ``kubeadm reset`` deletes them: each file of the
    #: manifests directory, the kubeconfigs, the PKI directory, each entry of etcd's data.
    reset_paths: tuple[str, ...]
    #: The kubelet configuration files that keep ``gone`` from being ``True``.
    kubelet_config: tuple[Evidence, ...] = ()


def _blockers(facts: Facts) -> list[Blocker]:
    found: list[Blocker] = []
    for name in CONTROL_PLANE:
        path = f"{MANIFESTS_DIR}/{name}.yaml"
        if facts.root.exists(path):
            found.append(
                Blocker(path, check_name("FileAvailable", path), f"{path} already exists", "init")
            )
    entries = facts.root.listdir(ETCD_DATA_DIR)
    if entries:
        found.append(
            Blocker(
                ETCD_DATA_DIR,
                check_name("DirAvailable", ETCD_DATA_DIR),
                f"{ETCD_DATA_DIR} is not empty",
                "init",
            )
        )
    for path in JOIN_FILES:
        if facts.root.exists(path):
            found.append(
                Blocker(path, check_name("FileAvailable", path), f"{path} already exists", "join")
            )
    return found


def _reset_paths(facts: Facts) -> list[str]:
    paths = [
        f"{MANIFESTS_DIR}/{n}" for n in (facts.root.listdir(MANIFESTS_DIR) or [])[:MAX_ENTRIES]
    ]
    paths += [p for p in RESET_FILES if facts.root.exists(p)]
    if facts.root.exists(PKI_DIR):
        paths.append(PKI_DIR)
    paths += [
        f"{ETCD_DATA_DIR}/{n}" for n in (facts.root.listdir(ETCD_DATA_DIR) or [])[:MAX_ENTRIES]
    ]
    return paths


def kubeadm_leftovers(facts: Facts) -> KubeadmLeftovers:
    blockers = _blockers(facts)
    if not blockers:
        return KubeadmLeftovers(False, "", (), ())
    kubelet = facts.get(teardown_facts).kubelet
    own = set(RESET_FILES) | set(JOIN_FILES)
    config = tuple(e for e in kubelet.config_left if e.source not in own)
    if kubelet.running is True:
        return KubeadmLeftovers(
            False,
            _(
                "the kubelet is running: a kubeadm node in service has these files (a control "
                "plane all of them); after a 'kubeadm init' or 'join' that failed half way, run "
                "'kubeadm reset' before trying again"
            ),
            tuple(blockers),
            (),
        )
    if config:
        return KubeadmLeftovers(
            False,
            _(
                "the kubelet's configuration is still here ({path}): the node is stopped, not "
                "torn down; 'kubeadm reset' removes all of it before a new 'kubeadm init' or "
                "'join'"
            ).format(path=config[0].source),
            tuple(blockers),
            (),
            config,
        )
    return KubeadmLeftovers(True, "", tuple(blockers), tuple(_reset_paths(facts)))
