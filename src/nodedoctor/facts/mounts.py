"""The mount table: `/proc/self/mountinfo`, then `/proc/1/mountinfo`, then `/proc/mounts`."""

from __future__ import annotations

from dataclasses import dataclass

from nodedoctor.facts import Facts
from nodedoctor.parsers.mountinfo import Mount, parse_mountinfo, parse_proc_mounts


@dataclass(frozen=True)
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


def mount_table(facts: Facts) -> MountTable:
    for path in ("/proc/self/mountinfo", "/proc/1/mountinfo"):
        parsed = facts.parse(path, parse_mountinfo)
        if parsed is not None:
            return MountTable(tuple(parsed), path)
    parsed = facts.parse("/proc/mounts", parse_proc_mounts)
    if parsed is not None:
        return MountTable(tuple(parsed), "/proc/mounts")
    return MountTable((), None)
