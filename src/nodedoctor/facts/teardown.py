"""What a torn-down (or tearing-down) cluster leaves on a node, classified once for the rules
(``foreign-cgroup-mount``, ``kubelet-mounts-left``) and for the clean engine, which plans
their removal from these facts and never re-derives them.

Mounts, from the mount table (``facts.mounts``):

- **cgroup mounts outside /sys/fs/cgroup** (``cgroup`` or ``cgroup2`` anywhere else): Calico
  (v3.24+) mounts the host's root cgroup2 at ``/run/calico/cgroup``, Cilium at
  ``/run/cilium/cgroupv2``. ``rm -rf`` through one fails (``Operation not permitted``) or,
  worse, removes empty host cgroups (kubesphere/kubekey#2539). lxcfs's own hierarchies under
  ``/run/lxcfs/`` belong to the host and are kept apart (``owner="lxcfs"``, not removable).
- **bpffs** mounts; ``/sys/fs/bpf`` is the standard one (systemd mounts it at boot).
- **mounts strictly under /var/lib/kubelet/**, with ``kubeadm reset`` semantics: the prefix
  with a trailing slash (a mount *of* the directory itself is kept), also under the
  directory the path links to (kubeadm resolves links with ``EvalSymlinks``), under
  MicroK8s's ``/var/snap/microk8s/common/var/lib/kubelet`` and under the kubelet's
  ``--root-dir`` when it has one (:func:`kubelet_dirs`, which the clean engine checks too).
- **CNI network namespaces**: ``/run/netns/cni-*`` (also ``/var/run/netns/cni-*``).

Whether the kubelet is still there (:class:`KubeletState`):

- a root that shows what runs (live, a host's procfs under ``--root``, a bundle, recorded
  ``/proc/<pid>/comm``; facts/processes.py): a kubelet process runs or not (the kubelet binary,
  MicroK8s's kubelite, k3s's own process; every deployer model's ``kubelet_processes``);
  otherwise ``systemctl show`` of its unit if recorded;
- any other offline root: unknown whether it runs, so it counts as **gone** only when none
  of its configuration is left (``kubeadm reset`` and ``kk delete cluster`` remove it; the
  files are the deployer models' ``configured``); with its configuration still present the
  state is unknown.
"""

from __future__ import annotations

import os

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import (
    DEPLOYERS,
    K3S,
    KOPS,
    KUBEADM,
    KUBEKEY,
    KUBESPRAY,
    MICROK8S,
    RKE2,
)
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.mounts import MountTable, mount_table
from nodedoctor.facts.processes import processes
from nodedoctor.facts.profile import Profile, deployer_profile
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers.mountinfo import Mount

CGROUP_ROOT = "/sys/fs/cgroup"
KUBELET_DIR = "/var/lib/kubelet"
#: The kubelet directories of the deployers, from their models: /var/lib/kubelet (kubeadm,
#: Kubespray, kOps, KubeKey, k3s and RKE2 by default) first, then MicroK8s's
#: ``--root-dir=${SNAP_COMMON}/var/lib/kubelet``.
DEPLOYER_KUBELET_DIRS = tuple(
    dict.fromkeys((KUBELET_DIR, *(d.kubelet_root_dir for d in DEPLOYERS)))
)
#: Trees that are never a kubelet directory, whatever a ``--root-dir`` says.
_NOT_KUBELET_DIRS = ("/proc", "/sys", "/dev")
STANDARD_BPFFS = "/sys/fs/bpf"
NETNS_DIRS = ("/run/netns", "/var/run/netns")

#: Mount points of the cgroup2 mounts that CNI agents make, by owner.
KNOWN_CGROUP_MOUNTS = {"/run/calico/cgroup": "calico", "/run/cilium/cgroupv2": "cilium"}
#: Prefixes of cgroup mounts that belong to the host, not to Kubernetes.
HOST_CGROUP_PREFIXES = {"/run/lxcfs/": "lxcfs"}

#: The deployers whose ``configured`` files tell that a kubelet is configured, kubeadm's first.
_CONFIG_ORDER = (KUBEADM, KUBESPRAY, KUBEKEY, KOPS, MICROK8S, K3S, RKE2)

_ACTIVE = ("active", "activating", "reloading")
_INACTIVE = ("inactive", "failed")


@record
class Leftover:
    """A mount that teardown has to remove."""

    mount: Mount
    #: ``cgroup``, ``bpffs``, ``kubelet`` or ``netns``.
    kind: str
    #: Who made it, when known: ``calico``, ``cilium``, ``lxcfs``; ``None`` for unknown.
    owner: str | None
    #: The mount table it was read from (``/proc/self/mountinfo``, ...).
    table: str
    #: Safe for a clean engine to unmount once the cluster is gone.
    removable: bool = True

    @property
    def mount_point(self) -> str:
        return self.mount.mount_point

    @property
    def depth(self) -> int:
        return self.mount.mount_point.rstrip("/").count("/")

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.table, self.mount.text, self.mount.line)


@record
class KubeletState:
    #: ``True``/``False`` when the root shows what runs (facts/processes.py); ``None`` otherwise.
    running: bool | None
    running_evidence: tuple[Evidence, ...]
    #: Kubelet configuration files still on the node.
    config_left: tuple[Evidence, ...]
    #: The configuration files looked for (the node's deployers'), kubeadm's when none is told.
    config_files: tuple[str, ...] = KUBEADM.configured
    #: Why ``running`` is ``None``.
    unknown_reason: str = ""

    @property
    def gone(self) -> bool | None:
        """The kubelet does not run (stopped, or removed): ``None`` when that cannot be told
        (this root does not show what runs, and the kubelet's configuration is still there)."""
        if self.running is True:
            return False
        if self.running is False or not self.config_left:
            return True
        return None

    @property
    def removed(self) -> bool:
        """Not running and none of its configuration left: the node was torn down."""
        return self.running is not True and not self.config_left

    def describe(self) -> str:
        """The kubelet's state as a clause of a finding's sentence, in the current language."""
        if self.running is True:
            return _("the kubelet is running")
        if self.running is False:
            if self.config_left:
                return _("the kubelet is configured but not running")
            return _("the kubelet is not running and no kubelet configuration is left")
        if not self.config_left:
            return _("no kubelet configuration is left on the node")
        return _(
            "whether the kubelet runs is unknown (offline root, kubelet configuration present)"
        )

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        absent = tuple(Evidence(p, "absent") for p in self.config_files[:2])
        if self.running is not None:
            return self.running_evidence + (self.config_left[:1] or absent)
        if not self.config_left:
            return absent
        return self.config_left


@record
class TeardownFacts:
    #: The mount table was readable; without it no mount verdict can be given.
    mounts_known: bool
    foreign_cgroup: tuple[Leftover, ...]
    bpffs: tuple[Leftover, ...]
    #: The kubelet directory as kubeadm resolves it (links followed inside the root).
    kubelet_dir: str
    kubelet_mounts: tuple[Leftover, ...]
    netns: tuple[Leftover, ...]
    kubelet: KubeletState
    #: Every directory whose mounts below it are the kubelet's (:func:`kubelet_dirs`).
    kubelet_dirs: tuple[str, ...]

    def unmount_order(self) -> list[Leftover]:
        """Every removable leftover mount, deepest first (as ``kubespray reset`` does with
        ``tac``), so a mount is never removed before the mounts below it."""
        items = [
            m for m in (*self.kubelet_mounts, *self.netns, *self.foreign_cgroup) if m.removable
        ]
        return sorted(items, key=lambda m: (-m.depth, -m.mount.line))


def _node_realpath(facts: Facts, path: str) -> str:
    """``path`` with links followed inside the root, as a node path."""
    base = facts.root.base
    if base == "/":
        return os.path.realpath(path)
    try:
        host = facts.root.resolve(path)
    except Exception:  # an unsafe link: keep the path as written
        return path
    rel = os.path.relpath(host, base)
    return "/" if rel == "." else "/" + rel


def _cgroup_owner(mount_point: str) -> tuple[str | None, bool]:
    owner = KNOWN_CGROUP_MOUNTS.get(mount_point.rstrip("/"))
    if owner is not None:
        return owner, True
    for prefix, host_owner in HOST_CGROUP_PREFIXES.items():
        if mount_point.startswith(prefix):
            return host_owner, False
    return None, True


def _classify(table: MountTable, kubelet_dirs: tuple[str, ...]) -> dict[str, list[Leftover]]:
    out: dict[str, list[Leftover]] = {"cgroup": [], "bpffs": [], "kubelet": [], "netns": []}
    source = table.source or "mount table"
    prefixes = tuple(d.rstrip("/") + "/" for d in kubelet_dirs)
    for m in table.mounts:
        point = m.mount_point
        if m.fstype in ("cgroup", "cgroup2"):
            if point != CGROUP_ROOT and not point.startswith(CGROUP_ROOT + "/"):
                owner, removable = _cgroup_owner(point)
                out["cgroup"].append(Leftover(m, "cgroup", owner, source, removable))
        elif m.fstype == "bpf":
            out["bpffs"].append(
                Leftover(m, "bpffs", None, source, removable=point != STANDARD_BPFFS)
            )
        if point.startswith(prefixes):
            out["kubelet"].append(Leftover(m, "kubelet", "kubelet", source))
        elif any(point.startswith(f"{d}/cni-") for d in NETNS_DIRS):
            out["netns"].append(Leftover(m, "netns", "cni", source))
    return out


#: The recorded ``systemctl show`` commands and the unit each asks about.
_SYSTEMCTL_UNITS = {
    "systemctl-kubelet": "kubelet.service",
    "systemctl-kubelite": "snap.microk8s.daemon-kubelite.service",
}


def configured_files(profile: Profile) -> tuple[str, ...]:
    """Files whose presence means a kubelet is configured on the node: the ``configured`` files
    of the deployers it shows (and of ``--profile``'s), of every deployer when it shows none.
    A file of another deployer is not asked: the kubelet package's own /etc/sysconfig/kubelet
    stays on a RHEL node after ``kubeadm reset``, but on a kOps node nodeup wrote it."""
    names = {*profile.detected, *((profile.name,) if profile.name else ())}
    models = [d for d in _CONFIG_ORDER if d.name in names] or list(_CONFIG_ORDER)
    return tuple(dict.fromkeys(p for d in models for p in d.configured))


def _systemctl_state(facts: Facts) -> tuple[bool | None, list[Evidence]]:
    states: dict[str, tuple[str, Evidence]] = {}
    for command in _SYSTEMCTL_UNITS:
        result = facts.root.run(command)
        if result is None or not result.ok:
            continue
        for line in result.stdout.splitlines():
            if line.startswith("ActiveState="):
                value = line.split("=", 1)[1].strip()
                states[command] = (value, Evidence(result.display, line.strip()))
    if not states:
        return None, []
    evidence = [ev for _, ev in states.values()]
    if any(value in _ACTIVE for value, _ in states.values()):
        return True, evidence
    # k3s and RKE2 run the kubelet from their own units, which these commands do not ask about.
    deployer = facts.get(deployer_profile).deployer
    asked = {_SYSTEMCTL_UNITS[command] for command in states}
    tells = deployer is None or bool(asked & set(deployer.kubelet_units))
    if tells and all(value in _INACTIVE for value, _ in states.values()):
        return False, evidence
    return None, evidence


def kubelet_state(facts: Facts) -> KubeletState:
    files = configured_files(facts.get(deployer_profile))
    config = tuple(Evidence(p, "present") for p in files if facts.root.exists(p))
    procs = facts.get(processes)
    if procs.known:
        proc = procs.kubelet()
        if proc is not None:
            return KubeletState(True, (proc.evidence,), config, files)
    # systemd is asked only when no kubelet process answers (two commands saved on a node
    # whose kubelet runs).
    running, evidence = _systemctl_state(facts)
    if procs.known:
        if running is True:
            # Between two restarts of a crash-looping kubelet: systemd is starting it again.
            return KubeletState(True, tuple(evidence), config, files)
        return KubeletState(
            False, (Evidence("/proc", "no kubelet process running"), *evidence), config, files
        )
    why = procs.unknown_reason if running is None else ""
    return KubeletState(running, tuple(evidence), config, files, why)


def kubelet_root_dir(facts: Facts) -> str:
    """The kubelet's ``--root-dir``, else its deployer's (MicroK8s:
    ``${SNAP_COMMON}/var/lib/kubelet``), else ``/var/lib/kubelet``."""
    flag = facts.get(kubelet_facts).flags.last("root-dir")
    if flag is not None and flag.value.startswith("/"):
        return flag.value.rstrip("/") or KUBELET_DIR
    deployer = facts.get(deployer_profile).deployer
    return deployer.kubelet_root_dir if deployer is not None else KUBELET_DIR


def kubelet_dirs(facts: Facts, root_dir: str) -> tuple[str, ...]:
    """The directories strictly below which a mount is the kubelet's (``kubeadm reset``
    semantics): every deployer's kubelet directory and the kubelet's ``--root-dir``
    (``root_dir``), each as written and as it resolves through links inside the root. The
    clean plan and the clean engine both go by this one list, so what is planned is what
    may be unmounted."""
    written = list(DEPLOYER_KUBELET_DIRS)
    if not any(root_dir == d or root_dir.startswith(d + "/") for d in _NOT_KUBELET_DIRS):
        written.append(root_dir)
    return tuple(dict.fromkeys(p for d in written for p in (d, _node_realpath(facts, d))))


def teardown_facts(facts: Facts) -> TeardownFacts:
    table = facts.get(mount_table)
    root_dir = kubelet_root_dir(facts)
    kubelet_dir = _node_realpath(facts, root_dir)
    dirs = kubelet_dirs(facts, root_dir)
    groups = _classify(table, dirs)
    return TeardownFacts(
        mounts_known=table.known,
        foreign_cgroup=tuple(groups["cgroup"]),
        bpffs=tuple(groups["bpffs"]),
        kubelet_dir=kubelet_dir,
        kubelet_mounts=tuple(groups["kubelet"]),
        netns=tuple(groups["netns"]),
        kubelet=facts.get(kubelet_state),
        kubelet_dirs=dirs,
    )
