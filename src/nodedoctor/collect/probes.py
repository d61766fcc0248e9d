"""What a collection lists beyond the files the rules read: the socket owners of Kubernetes'
ports, glob patterns, and the processes the running-state facts watch."""

from __future__ import annotations

import re
from collections.abc import Iterable

from nodedoctor.facts import Facts
from nodedoctor.sources.root import Root

_PID_PATH = re.compile(r"^/proc/(\d+)/")


def socket_owners(facts: Facts) -> dict[str, str]:
    """The ``/proc/<pid>/fd/<n>`` links of the processes that hold Kubernetes' ports, and
    their ``comm`` files: what the port rule's replay needs of the other processes' files."""
    from nodedoctor.facts.ports import kubernetes_ports

    ports = facts.get(kubernetes_ports)
    out: dict[str, str] = {}
    for listener in ports.listeners or ():
        owner = listener.owner
        if owner is not None and owner.fd is not None:
            out[f"/proc/{owner.pid}/fd/{owner.fd}"] = f"socket:[{listener.socket.inode}]"
    return out


def expand(root: Root, pattern: str) -> list[str]:
    directory, _, name = pattern.rpartition("/")
    if any(c in name for c in "*?["):
        return root.glob(directory or "/", name)
    return [pattern]


def watched_pids(root: Root, paths: Iterable[str]) -> set[str]:
    from nodedoctor.facts.processes import WATCHED

    pids: set[str] = set()
    for path in paths:
        m = _PID_PATH.match(path)
        if m and path.endswith("/comm"):
            comm = (root.read_text(path, 256) or "").strip()
            if comm in WATCHED:
                pids.add(m.group(1))
    return pids
