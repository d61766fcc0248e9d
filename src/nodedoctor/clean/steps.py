"""The parts of a clean plan: the steps, what is kept, and the daemons in the way."""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.model import Evidence


@record
class Step:
    """One action of the plan. ``unmount`` steps carry the mount's identity, re-checked
    against ``/proc/self/mountinfo`` right before the step runs; the others are re-checked
    against the node as it is then (clean/engine.py)."""

    #: unmount | rmdir | move | delete-link | remove-chains | delete-table
    action: str
    #: A node path; for delete-link the interface's name; for the rule steps a label.
    path: str
    #: cgroup | bpffs | kubelet | netns | kubepods | pod-dir | cni-config | cni-state |
    #: kubeadm | interface | iptables | nftables
    kind: str
    reason: str
    evidence: Evidence
    mount_id: int | None = None
    fstype: str = ""
    source: str = ""
    #: rmdir: the cgroup hierarchy (mount point, or the test root) the directory is in.
    hierarchy: str = ""
    #: remove-chains: the save command whose backend holds them (``iptables-nft-save``).
    command: str = ""
    #: remove-chains: the table; delete-table: ``<family> <name>``.
    table: str = ""
    #: remove-chains: the chains planned.
    chains: tuple[str, ...] = ()
    #: May run while the kubelet runs (a pod directory the kubelet itself calls orphaned).
    while_running: bool = False

    @property
    def depth(self) -> int:
        return self.path.rstrip("/").count("/")

    @property
    def journaled(self) -> bool:
        """What the step removes is kept in the clean journal first."""
        return self.action in ("move", "delete-link", "remove-chains", "delete-table")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "action": self.action,
            "path": self.path,
            "kind": self.kind,
            "reason": self.reason,
            "evidence": self.evidence.to_json(),
        }
        if self.action == "unmount":
            out.update(mount_id=self.mount_id, fstype=self.fstype, source=self.source)
        elif self.action == "rmdir":
            out["hierarchy"] = self.hierarchy
        elif self.action == "remove-chains":
            out.update(command=self.command, table=self.table, chains=list(self.chains))
        elif self.action == "delete-table":
            out["table"] = self.table
        if self.while_running:
            out["while_running"] = True
        return out


@record
class Kept:
    """Something the plan saw and will not touch, and why."""

    path: str
    kind: str
    reason: str
    evidence: Evidence | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "kind": self.kind, "reason": self.reason}
        if self.evidence is not None:
            out["evidence"] = self.evidence.to_json()
        return out


@record
class Blocker:
    """A running daemon that must stop before anything is removed."""

    role: str  # "kubelet" | "runtime"
    comm: str
    pid: int
    evidence: Evidence
    #: The systemd unit whose cgroup holds the process (``/proc/<pid>/cgroup``), if any.
    unit: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "comm": self.comm,
            "pid": self.pid,
            "unit": self.unit,
            "evidence": self.evidence.to_json(),
        }
