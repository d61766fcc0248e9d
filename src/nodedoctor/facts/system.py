"""Who the node is: OS, kernel, architecture, hostname, init system, Raspberry Pi."""

from __future__ import annotations

import os
import re

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.mounts import host_procfs
from nodedoctor.facts.processes import RECORDED, processes
from nodedoctor.model import Evidence
from nodedoctor.parsers.osrelease import Assignment, parse_env_file

#: ``ID``/``ID_LIKE`` words of the Red Hat family.
_RHEL_FAMILY = frozenset({"rhel", "centos", "fedora", "rocky", "almalinux"})

#: RPM distributions of the Red Hat boot layout (GRUB 2 with grub2-mkconfig, /boot/grub2) whose
#: os-release has no ``ID_LIKE``: openEuler (``ID="openEuler"``, ansible's
#: openeuler_20.03.json fixture; 22.03 and 24.03 the same), Kylin Linux Advanced Server V10
#: (``ID="kylin"``, ansible's kylin_linux_advanced_server_v10.json; Kylin Desktop says
#: ``ID_LIKE=debian`` and is not one), Oracle Linux 7 (``ID="ol"``; 8 and later add
#: ``ID_LIKE="fedora"``). Anolis, Alibaba Cloud Linux and TencentOS name rhel in ID_LIKE.
_RHEL_LIKE_WITHOUT_ID_LIKE = frozenset({"openeuler", "kylin", "ol"})


@record
class OsRelease:
    id: str | None
    id_like: tuple[str, ...]
    version_id: str | None
    pretty_name: str | None
    version_codename: str | None
    source: str | None

    @property
    def family(self) -> set[str]:
        """``ID`` and ``ID_LIKE`` in lower case (openEuler writes ``ID="openEuler"``)."""
        return {x.lower() for x in (self.id, *self.id_like) if x}

    @property
    def rhel_like(self) -> bool:
        """The Red Hat family by ID_LIKE, or a distribution of its layout without ID_LIKE.

        >>> OsRelease("openEuler", (), "22.03", None, None, None).rhel_like
        True
        >>> OsRelease("kylin", ("debian",), "v10", None, None, None).rhel_like
        False
        """
        if self.family & _RHEL_FAMILY:
            return True
        return not self.id_like and (self.id or "").lower() in _RHEL_LIKE_WITHOUT_ID_LIKE


def os_release(facts: Facts) -> OsRelease:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        parsed = facts.parse(path, parse_env_file)
        if parsed is not None:

            def get(key: str, parsed: dict[str, Assignment] = parsed) -> str | None:
                a = parsed.get(key)
                return a.value if a else None

            return OsRelease(
                id=get("ID"),
                id_like=tuple((get("ID_LIKE") or "").split()),
                version_id=get("VERSION_ID"),
                pretty_name=get("PRETTY_NAME"),
                version_codename=get("VERSION_CODENAME"),
                source=path,
            )
    return OsRelease(None, (), None, None, None, None)


@record
class Kernel:
    release: Sourced[str] | None
    arch: str | None

    @property
    def version(self) -> tuple[int, ...] | None:
        if self.release is None:
            return None
        m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", self.release.value)
        if not m:
            return None
        return tuple(int(x) for x in m.groups() if x is not None)


_ARCH_FROM_RELEASE = re.compile(r"(x86_64|aarch64|armv7l|armv6l|ppc64le|s390x|riscv64)")


def kernel(facts: Facts) -> Kernel:
    release: Sourced[str] | None = None
    text = facts.read("/proc/sys/kernel/osrelease")
    if text and text.strip():
        release = Sourced(text.strip(), file_evidence("/proc/sys/kernel/osrelease", text))
    elif facts.live:
        rel = os.uname().release  # uname(2): no `platform` import at start-up
        release = Sourced(rel, Evidence("uname -r", rel))
    arch: str | None = None
    recorded = facts.root.run("uname-m") if facts.running and not facts.live else None
    if facts.live:
        arch = os.uname().machine
    elif recorded is not None and recorded.ok and recorded.stdout.strip():
        arch = recorded.stdout.strip()  # a bundle: `uname -m` as recorded on the node
    elif release is not None:
        m = _ARCH_FROM_RELEASE.search(release.value)
        arch = m.group(1) if m else None
        if arch is None and "-v8" in release.value:
            arch = "aarch64"
    return Kernel(release, arch)


def hostname(facts: Facts) -> str | None:
    """The node's name, as the report shows it (:func:`hostname_source`)."""
    named = facts.get(hostname_source)
    return named.value if named is not None else None


def hostname_source(facts: Facts) -> Sourced[str] | None:
    """The node's hostname and where it was read. Live, the kernel's (what ``os.Hostname()``,
    hence the kubelet, reads). Under a root, the root's ``/etc/hostname`` first: where the
    root's ``/proc`` is a live procfs (the DaemonSet's ``/host``), ``/proc/sys/kernel/hostname``
    answers from the reader's UTS namespace, the pod's name, so it is read only from a recorded
    ``/proc`` (a bundle, an image)."""
    if facts.live:
        paths: tuple[str, ...] = ("/proc/sys/kernel/hostname", "/etc/hostname")
    elif host_procfs(facts.root):
        paths = ("/etc/hostname",)
    else:
        paths = ("/etc/hostname", "/proc/sys/kernel/hostname")
    for path in paths:
        text = facts.read(path)
        # hostname(5): one name; lines starting with '#' are comments.
        for lineno, line in enumerate((text or "").splitlines(), 1):
            name = line.strip()
            if name and not name.startswith("#"):
                return Sourced(name, file_evidence(path, line, lineno))
    if facts.live:
        name = os.uname().nodename
        return Sourced(name, Evidence("uname -n", name))
    return None


@record
class Board:
    model: str | None
    raspberry_pi: bool
    evidence: Evidence | None


def cpuinfo(facts: Facts) -> str | None:
    """``/proc/cpuinfo``, read once for the board and the CPU count (facts/resources.py)."""
    return facts.read("/proc/cpuinfo")


def board(facts: Facts) -> Board:
    """Raspberry Pi detection, as k3s-ansible does it (device-tree model, then cpuinfo)."""
    model = facts.read("/proc/device-tree/model")
    if model:
        model = model.replace("\x00", "").strip()
        return Board(
            model, "Raspberry Pi" in model, file_evidence("/proc/device-tree/model", model)
        )
    for lineno, line in enumerate((facts.get(cpuinfo) or "").splitlines(), 1):
        if re.search(r"BCM270[89]|BCM283[56]|BCM2711|BCM2712", line) or (
            line.startswith("Model") and "Raspberry Pi" in line
        ):
            return Board(
                line.split(":", 1)[-1].strip(), True, file_evidence("/proc/cpuinfo", line, lineno)
            )
    return Board(None, False, None)


@record
class InitSystem:
    """What PID 1 is. ``systemd`` is ``None`` when it cannot be told (an offline root
    without systemd installed tells ``False``)."""

    systemd: bool | None
    evidence: Evidence | None


#: systemd creates it at boot; sd_booted(3) tells "booted with systemd" by it.
RUN_SYSTEMD = "/run/systemd/system"


def init_system(facts: Facts) -> InitSystem:
    """PID 1 from what the root shows (facts/processes.py): its ``/proc/1/comm`` (live, a
    host's procfs under ``--root``, a bundle, a recorded root), else ``/run/systemd/system``
    (a running node's, or a recorded ``/run``); else whether the image has systemd."""
    procs = facts.get(processes)
    if procs.pid1 is not None:
        name = procs.pid1.comm
        return InitSystem(name == "systemd", Evidence("/proc/1/comm", name))
    if facts.root.is_dir(RUN_SYSTEMD):
        return InitSystem(True, Evidence(RUN_SYSTEMD, "exists"))
    if procs.known and procs.source != RECORDED:
        # A running node's /run without it: PID 1 is not systemd.
        return InitSystem(False, Evidence(RUN_SYSTEMD, "absent"))
    for path in ("/usr/lib/systemd/systemd", "/lib/systemd/systemd"):
        if facts.root.exists(path):
            return InitSystem(True, Evidence(path, "systemd is installed in the image"))
    return InitSystem(None, None)
