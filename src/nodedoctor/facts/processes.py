"""What runs on the node: PID 1 and the node daemons, as the root shows them.

A root shows its running state when its ``/proc`` describes processes:

- ``live``: this machine;
- ``host procfs``: a directory root whose ``/proc`` is a live procfs (``--root /host`` in the
  DaemonSets: the host's ``/`` with its ``/proc``; ``facts/mounts.py`` ``host_procfs``);
- ``bundle``: a bundle recorded on a running node (``nodedoctor collect`` records
  ``/proc/1/comm`` and the ``comm`` and ``cmdline`` of the watched daemons);
- ``recorded``: any other root holding ``/proc/<pid>/comm`` files (an extracted bundle, a test
  root): the processes it recorded are the ones that ran.

Everything is read through the root (``comm`` and ``cmdline`` files), never by running a
command. Any other root (a disk image, a bare tree of config files) cannot tell: the process
list is then ``None`` ("unknown"), never "not running".
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import KUBELET_PROCESSES
from nodedoctor.facts.mounts import host_procfs
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

#: Daemons the rules and the clean engine care about, by the kernel's ``comm`` name: every
#: deployer's kubelet process (facts/deployers.py), then the container runtimes.
WATCHED = (*KUBELET_PROCESSES, "containerd", "crio", "dockerd", "cri-dockerd")

LIVE = "live"
HOST_PROCFS = "host procfs"
BUNDLE = "bundle"
RECORDED = "recorded"


@record
class Process:
    pid: int
    comm: str
    argv: tuple[str, ...]

    @property
    def evidence(self) -> Evidence:
        return Evidence(f"/proc/{self.pid}/cmdline", " ".join(self.argv) or self.comm)


@record
class Processes:
    """The watched daemons that run, and PID 1, when this root shows them."""

    #: ``None`` when this root cannot tell what runs.
    running: tuple[Process, ...] | None
    #: How the root shows it: ``live``, ``host procfs``, ``bundle`` or ``recorded``.
    source: str | None = None
    #: PID 1 (its ``comm``; ``argv`` is not read), when its ``comm`` is readable.
    pid1: Process | None = None

    @property
    def known(self) -> bool:
        return self.running is not None

    @property
    def unknown_reason(self) -> str:
        """Why what runs cannot be told (for a rule's skip reason)."""
        return _(
            "this root does not show what runs: its /proc is not a live procfs and holds no "
            "recorded /proc/<pid>/comm"
        )

    def named(self, *comms: str) -> list[Process]:
        return [p for p in self.running or () if p.comm in comms]

    def kubelet(self) -> Process | None:
        """The running kubelet: the kubelet binary (kubeadm, kOps, RKE2's child ...), MicroK8s's
        kubelite, or k3s, which embeds it."""
        found = self.named(*KUBELET_PROCESSES)
        return found[0] if found else None


def _source(facts: Facts, pids: list[str]) -> str | None:
    if facts.live:
        return LIVE
    if host_procfs(facts.root):
        return HOST_PROCFS
    if facts.running:
        return BUNDLE
    if any(facts.root.exists(f"/proc/{pid}/comm") for pid in pids):
        return RECORDED
    return None


def _process(facts: Facts, pid: str, comm: str) -> Process:
    raw = facts.read(f"/proc/{pid}/cmdline") or ""
    return Process(int(pid), comm, tuple(a for a in raw.split("\x00") if a))


def processes(facts: Facts) -> Processes:
    pids = [name for name in facts.root.listdir("/proc") or [] if name.isdigit()]
    source = _source(facts, pids)
    if source is None:
        return Processes(None)
    found: list[Process] = []
    pid1: Process | None = None
    for pid in pids:
        comm = facts.read(f"/proc/{pid}/comm")
        if comm is None:
            continue
        comm = comm.strip()
        if pid == "1":
            pid1 = Process(1, comm, ())
        if comm in WATCHED:
            found.append(_process(facts, pid, comm))
    return Processes(tuple(found), source, pid1)
