"""The TCP ports Kubernetes' node and control-plane components listen on, and who holds them.

Read from ``/proc/net/tcp`` and ``/proc/net/tcp6`` (no command): the listening sockets of the
node's network namespace. Which file that is depends on the root:

- live: ``/proc/net/tcp`` (this process's namespace: run nodedoctor on the host, not in a
  container of its own);
- a host seen from a pod (``--root /host``, a live procfs): ``/proc/1/net/tcp``, the namespace
  of the host's init, since ``/proc/net`` is the reading process's own (the DaemonSets run
  without ``hostNetwork``);
- any other root: ``/proc/net/tcp`` as recorded.

A socket's owner is the process with a ``/proc/<pid>/fd/<n>`` link to ``socket:[<inode>]``,
where the root shows them (live as root, the DaemonSet with ``SYS_PTRACE``); the processes
named like Kubernetes components are looked at first, the others only when they do not hold
it, within :data:`MAX_FD_LINKS` links.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.mounts import host_procfs
from nodedoctor.i18n import _
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.proc_net import ListeningSocket, TcpTable, parse_proc_net_tcp

#: The ports kubeadm's preflight checks (``PortOpenCheck``), and who listens on each.
PORTS: dict[int, str] = {
    6443: "kube-apiserver",
    10250: "the kubelet",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
    2379: "etcd (clients)",
    2380: "etcd (peers)",
}
#: ``comm`` (15 characters at most) of the processes that legitimately hold those ports: the
#: components, and the deployers' processes that embed them (k3s, RKE2, MicroK8s's kubelite).
KUBERNETES_COMMS = frozenset(
    {
        "kube-apiserver",
        "kube-controller",  # kube-controller-manager, cut to 15 characters
        "kube-scheduler",
        "etcd",
        "kubelet",
        "kube-proxy",
        "k3s",
        "k3s-server",
        "k3s-agent",
        "rke2",
        "kubelite",
        "k8s-dqlite",
    }
)
#: Bounds of the owner search: fd links read, and processes looked at.
MAX_FD_LINKS = 200_000
MAX_PROCESSES = 32_768
#: The listening sockets come first in /proc/net/tcp (the kernel walks its listening hash
#: before the established one), so a bounded read keeps them all but on a node with
#: hundreds of thousands of connections.
READ_LIMIT = 4 * 1024 * 1024


@record
class Owner:
    pid: int
    comm: str
    #: The descriptor that holds the socket (``/proc/<pid>/fd/<fd>``).
    fd: str | None = None

    @property
    def kubernetes(self) -> bool:
        return self.comm in KUBERNETES_COMMS


@record
class PortListener:
    port: int
    socket: ListeningSocket
    source: str
    #: The process holding it; ``None`` when the root cannot tell.
    owner: Owner | None
    #: Why the owner is unknown.
    owner_unknown: str | None = None


@record
class KubernetesPorts:
    #: The sockets listening on one of :data:`PORTS`; ``None`` when the root has no
    #: ``/proc/net/tcp`` (or it was cut before its end).
    listeners: tuple[PortListener, ...] | None
    sources: tuple[str, ...] = ()
    unknown: str | None = None


def _net_dirs(facts: Facts) -> tuple[str, ...]:
    """Where the node's TCP tables are: PID 1's for a host seen from a pod; else
    ``/proc/net``, then PID 1's (a bundle collected from a pod keeps only those)."""
    if host_procfs(facts.root):
        return ("/proc/1/net",)
    return ("/proc/net", "/proc/1/net")


def _owners(facts: Facts, inodes: set[int]) -> tuple[dict[int, Owner], str | None]:
    """Owners of the socket inodes; a reason when some may be in processes the root hides."""
    pids = [p for p in facts.root.listdir("/proc") or [] if p.isdigit()][:MAX_PROCESSES]
    comms: dict[str, str] = {}
    for pid in pids:
        comm = facts.read(f"/proc/{pid}/comm")
        if comm is not None:
            comms[pid] = comm.strip()
    # Kubernetes' own processes first: on a healthy node they hold every port.
    ordered = sorted(comms, key=lambda p: comms[p] not in KUBERNETES_COMMS)
    found: dict[int, Owner] = {}
    hidden = 0
    budget = MAX_FD_LINKS
    wanted = {f"socket:[{i}]": i for i in inodes}
    for pid in ordered:
        fds = facts.root.listdir(f"/proc/{pid}/fd")
        if fds is None:
            hidden += 1
            continue
        for fd in fds:
            budget -= 1
            if budget < 0:
                return found, _("more than {n} open files to look through").format(n=MAX_FD_LINKS)
            inode = wanted.get(facts.root.readlink(f"/proc/{pid}/fd/{fd}") or "")
            if inode is not None and inode not in found:
                found[inode] = Owner(int(pid), comms[pid], fd)
                if len(found) == len(wanted):
                    return found, None
    if hidden == len(ordered):
        return found, _("this root does not show the processes' open files (/proc/<pid>/fd)")
    if hidden:
        return found, _("some processes' open files cannot be read (not root, or no SYS_PTRACE)")
    return found, _("no process shows it among its open files")


def _table(facts: Facts, path: str) -> TcpTable | str | None:
    """The table at ``path``, ``None`` when absent, or why it cannot be used."""
    read = facts.root.read(path, READ_LIMIT)
    if read is None:
        return None
    text = read.text
    if read.truncated:
        text = text[: text.rfind("\n") + 1]  # the last line is cut
    try:
        table = parse_proc_net_tcp(text)
    except ParseError as exc:
        facts.record_problem(path, exc.line, exc.message)
        return _("{path} cannot be parsed").format(path=path)
    if read.truncated and not table.others:
        return _("{path} lists more listening sockets than the first {n} bytes hold").format(
            path=path, n=READ_LIMIT
        )
    return table


def kubernetes_ports(facts: Facts) -> KubernetesPorts:
    dirs = _net_dirs(facts)
    base = next((d for d in dirs if facts.root.exists(f"{d}/tcp")), dirs[0])
    sockets: list[tuple[str, ListeningSocket]] = []
    sources: list[str] = []
    for name in ("tcp", "tcp6"):
        path = f"{base}/{name}"
        table = _table(facts, path)
        if isinstance(table, str):
            return KubernetesPorts(None, unknown=table)
        if table is None:
            continue
        sources.append(path)
        sockets.extend((path, s) for s in table.listening if s.port in PORTS)
    if not sources:
        return KubernetesPorts(None, unknown=_("no {path} in this root").format(path=f"{base}/tcp"))
    owners: dict[int, Owner] = {}
    why: str | None = None
    if sockets:
        owners, why = _owners(facts, {s.inode for _, s in sockets})
    listeners = tuple(
        PortListener(s.port, s, path, owners.get(s.inode), None if s.inode in owners else why)
        for path, s in sockets
    )
    return KubernetesPorts(listeners, tuple(sources))


#: Files whose presence makes a node a control plane: the kube-apiserver's static pod
#: (kubeadm, KubeKey and Kubespray write ``.yaml``, kOps ``.manifest``; RKE2 its own directory)
#: or k3s's server unit (the install script writes ``k3s.service`` for a server,
#: ``k3s-agent.service`` for an agent).
CONTROL_PLANE_MARKERS = (
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/manifests/kube-apiserver.manifest",
    "/var/lib/rancher/rke2/agent/pod-manifests/kube-apiserver.yaml",
    "/etc/systemd/system/k3s.service",
)
#: Files whose presence means etcd runs on the node (kubeadm's stacked etcd, RKE2's, k3s's
#: embedded etcd).
ETCD_MARKERS = (
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/manifests/etcd.manifest",
    "/var/lib/rancher/rke2/agent/pod-manifests/etcd.yaml",
    "/var/lib/rancher/k3s/server/db/etcd",
)


@record
class NodeRole:
    #: The file that makes the node a control plane, or ``None`` (a worker, or not set up).
    control_plane: str | None
    #: The file that says etcd runs here, or ``None``.
    etcd: str | None


def node_role(facts: Facts) -> NodeRole:
    control = next((p for p in CONTROL_PLANE_MARKERS if facts.root.exists(p)), None)
    etcd = next((p for p in ETCD_MARKERS if facts.root.exists(p)), None)
    return NodeRole(control, etcd)
