"""The mount table: `/proc/self/mountinfo`, then `/proc/1/mountinfo`, then `/proc/mounts`.

A root whose ``/proc`` is a real procfs (the DaemonSet's ``--root /host`` with the host's
``/proc`` mounted in it) is read the other way round: there ``self`` resolves to the reader,
so ``proc/self/mountinfo`` is the container's own mount table (its overlay root, the host's
cgroup2 at ``/host/sys/fs/cgroup``), and PID 1's is the host's. A recorded root (a bundle, a
disk image, a test fixture) has a plain ``proc/self`` directory and keeps the first order.
"""

from __future__ import annotations

import os

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.parsers.mountinfo import Mount, parse_mountinfo, parse_proc_mounts
from nodedoctor.sources.root import Root, UnsafePathError


@record
class MountTable:
    mounts: tuple[Mount, ...]
    source: str | None

    @property
    def known(self) -> bool:
        return self.source is not None

    def at(self, mount_point: str) -> Mount | None:
        """The mount visible at ``mount_point`` (the last one mounted there wins)."""
        found = None
        for m in self.mounts:
            if m.mount_point == mount_point:
                found = m
        return found

    def of_type(self, *fstypes: str) -> list[Mount]:
        return [m for m in self.mounts if m.fstype in fstypes]

    def under(self, directory: str) -> list[Mount]:
        """Mounts strictly below ``directory`` (like ``kubeadm reset``: the prefix with a slash)."""
        prefix = directory.rstrip("/") + "/"
        return [m for m in self.mounts if m.mount_point.startswith(prefix)]


#: A node with thousands of pods has tens of thousands of mounts (shm, secrets, projected
#: tokens, rootfs overlays): 5,000 pods write about 6 MiB of mountinfo.
MOUNT_TABLE_LIMIT = 64 * 1024 * 1024


def host_procfs(root: Root) -> bool:
    """``proc/self`` of an offline root is procfs's magic link: the root is a live host's
    (``--root /host``), whose ``proc/self`` is the reader's and ``proc/1`` the host's."""
    if root.live:
        return False
    try:
        return os.path.islink(root.resolve("/proc") + "/self")
    except UnsafePathError:
        return False


def mount_table(facts: Facts) -> MountTable:
    order = ("/proc/self/mountinfo", "/proc/1/mountinfo")
    if host_procfs(facts.root):
        order = order[::-1]
    for path in order:
        parsed = facts.parse(path, parse_mountinfo, MOUNT_TABLE_LIMIT)
        if parsed is not None:
            return MountTable(tuple(parsed), path)
    parsed = facts.parse("/proc/mounts", parse_proc_mounts, MOUNT_TABLE_LIMIT)
    if parsed is not None:
        return MountTable(tuple(parsed), "/proc/mounts")
    return MountTable((), None)
