"""Which node daemons are running, read from ``/proc``: live, or from a bundle, which records
the ``/proc/<pid>/comm`` and ``cmdline`` of the watched daemons (``nodedoctor collect``).

Other offline roots cannot tell; the answer is then ``None`` ("unknown"), never "not running".
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.model import Evidence

#: Daemons the rules and the clean engine care about, by the kernel's ``comm`` name.
WATCHED = (
    "kubelet",
    "kubelite",
    "k3s-server",
    "k3s-agent",
    "containerd",
    "crio",
    "dockerd",
    "cri-dockerd",
)


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
    #: ``None`` when this root cannot tell what runs (offline).
    running: tuple[Process, ...] | None

    @property
    def known(self) -> bool:
        return self.running is not None

    def named(self, *comms: str) -> list[Process]:
        return [p for p in self.running or () if p.comm in comms]

    def kubelet(self) -> Process | None:
        """The running kubelet: plain, MicroK8s kubelite, or k3s (which embeds it)."""
        found = self.named("kubelet", "kubelite", "k3s-server", "k3s-agent")
        return found[0] if found else None


def processes(facts: Facts) -> Processes:
    if not facts.running:
        return Processes(None)
    found: list[Process] = []
    for name in facts.root.listdir("/proc") or []:
        if not name.isdigit():
            continue
        comm = facts.read(f"/proc/{name}/comm")
        if comm is None:
            continue
        comm = comm.strip()
        if comm not in WATCHED:
            continue
        raw = facts.read(f"/proc/{name}/cmdline") or ""
        argv = tuple(a for a in raw.split("\x00") if a)
        found.append(Process(int(name), comm, argv))
    return Processes(tuple(found))
