"""Installed versions of the components the rules reason about, each with its evidence.

Sources: ``/var/lib/dpkg/status``; the rpm database (``rpmdb.sqlite`` of RHEL-like 9, Fedora
and openEuler, read offline too; RHEL 8's Berkeley DB through ``rpm -q`` on a running node
only); the snap's ``meta/snap.yaml`` (MicroK8s bundles its kubelet and containerd) and, on a
running node (live, or as a bundle recorded it), the binary's own ``--version``. The binary
wins over the package, but it is asked only when the package database cannot answer for it:
the component has no installed package, or a copy of the binary sits where a release tarball
installs it (``/usr/local/bin``, ahead of the package's on ``PATH``).
``containerd --version`` (a Go binary) alone costs more CPU than all the rest of a live check
after its imports (bench/commands.py). The commands that are needed start together. An
unknown version is ``None``, never zero.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.dpkg import DebPackage, parse_dpkg_status
from nodedoctor.parsers.rpmdb import RpmPackage, parse_rpm_header, parse_rpm_query
from nodedoctor.sources.root import UnsafePathError
from nodedoctor.sources.rpmdb import RpmdbError, find_rpmdb, read_rpmdb_headers

#: component -> Debian package names that carry it, best first.
DEB_NAMES: dict[str, tuple[str, ...]] = {
    "kubelet": ("kubelet",),
    "kubeadm": ("kubeadm",),
    "containerd": ("containerd.io", "containerd"),
    "runc": ("runc", "containerd.io"),
    "cri-o": ("cri-o",),
    "docker": ("docker-ce", "docker.io"),
    "cri-dockerd": ("cri-dockerd",),
    "apparmor": ("apparmor",),
    "cloud-init": ("cloud-init",),
    "systemd": ("systemd",),
    "google-guest-agent": ("google-guest-agent",),
}

#: component -> RPM package names that carry it, best first: the Kubernetes project's and
#: Docker's repositories (kubelet, cri-o, containerd.io, docker-ce), RHEL-like AppStream
#: (runc), Fedora and openEuler (containerd, moby-engine), Mirantis's cri-dockerd releases.
#: ``rpm-query`` in sources/commands.py asks for the same names.
RPM_NAMES: dict[str, tuple[str, ...]] = {
    "kubelet": ("kubelet",),
    "kubeadm": ("kubeadm",),
    "containerd": ("containerd.io", "containerd"),
    "runc": ("runc", "containerd.io"),
    "cri-o": ("cri-o",),
    "docker": ("docker-ce", "moby-engine"),
    "cri-dockerd": ("cri-dockerd",),
    "cloud-init": ("cloud-init",),
    "systemd": ("systemd",),
    "google-guest-agent": ("google-guest-agent",),
}

#: Where rpm keeps its database: /var/lib/rpm, a link to the second on Fedora >= 36.
RPMDB_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
#: RHEL 8's rpm database (Berkeley DB), which only ``rpm`` itself reads.
BERKELEY_RPMDB = "/var/lib/rpm/Packages"

#: component -> allowlisted command printing its version.
VERSION_COMMANDS: dict[str, str] = {
    "kubelet": "kubelet-version",
    "containerd": "containerd-version",
    "runc": "runc-version",
    "cri-o": "crio-version",
    "k3s": "k3s-version",
}

#: component -> binaries of the same name outside the package manager's directories, which
#: shadow the packaged ones on ``PATH`` (containerd's, runc's and Kubernetes' install guides
#: for release binaries put them there).
UNPACKAGED_BINARIES: dict[str, tuple[str, ...]] = {
    "kubelet": ("/usr/local/bin/kubelet",),
    "containerd": ("/usr/local/bin/containerd",),
    "runc": ("/usr/local/sbin/runc", "/usr/local/bin/runc"),
    "cri-o": ("/usr/local/bin/crio",),
}

#: component -> where its Debian package installs the binary.
PACKAGED_BINARIES: dict[str, tuple[str, ...]] = {
    "kubelet": ("/usr/bin/kubelet",),
    "containerd": ("/usr/bin/containerd",),
    "runc": ("/usr/sbin/runc", "/usr/bin/runc"),
    "cri-o": ("/usr/bin/crio",),
}

#: Seconds between dpkg unpacking a binary and writing the package's file list.
_INSTALL_SLACK = 5.0

_VERSION_IN_OUTPUT = {
    # containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da
    "containerd": re.compile(r"containerd\s+\S+\s+v?(\d+\.\d+\.\d+\S*)"),
    "runc": re.compile(r"runc version\s+(\S+)"),
    "kubelet": re.compile(r"Kubernetes\s+(v\S+)"),
    "cri-o": re.compile(r"[Vv]ersion:\s+(\S+)"),
    "k3s": re.compile(r"k3s version\s+(\S+)"),
}


@record
class Installed:
    component: str
    version: Version | None
    evidence: Evidence
    #: Where it came from: "command", "snap:microk8s", "deb:containerd.io", ...
    origin: str


@record
class Packages:
    #: The installed Debian packages named in :data:`DEB_NAMES`; ``None`` without a dpkg
    #: database.
    deb: dict[str, DebPackage] | None
    snaps: dict[str, Installed]
    found: dict[str, Installed]
    #: The installed RPM packages named in :data:`RPM_NAMES`; ``None`` when no rpm database
    #: could be read.
    rpm: dict[str, RpmPackage] | None = None

    def get(self, component: str) -> Installed | None:
        return self.found.get(component)

    def version(self, component: str) -> Version | None:
        item = self.found.get(component)
        return item.version if item else None

    def has_snap(self, name: str) -> bool:
        return name in self.snaps


def _snap(facts: Facts, name: str) -> Installed | None:
    path = f"/snap/{name}/current/meta/snap.yaml"
    text = facts.read(path)
    if text is None:
        return None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("version:"):
            raw = line.split(":", 1)[1].strip().strip("'\"")
            return Installed(
                name, Version.parse(raw), file_evidence(path, line, lineno), f"snap:{name}"
            )
    return Installed(name, None, file_evidence(path, "(no version line)"), f"snap:{name}")


def snap_confinement(facts: Facts, name: str) -> str | None:
    """The ``confinement:`` of snap ``name`` (``classic``, ``strict``, ``devmode``), read as
    the version is: a top-level line of its ``meta/snap.yaml``; ``None`` when not said."""
    text = facts.read(f"/snap/{name}/current/meta/snap.yaml")
    for line in (text or "").splitlines():
        if line.startswith("confinement:"):
            value = line.split(":", 1)[1].split(" #", 1)[0].strip().strip("'\"")
            return value or None
    return None


#: (component, package) where the package carries the component under its own version:
#: Docker's ``containerd.io`` ships runc, but its version is containerd's.
_BUNDLED: frozenset[tuple[str, str]] = frozenset(
    {("runc", "deb:containerd.io"), ("runc", "rpm:containerd.io")}
)


def _package_answers(
    facts: Facts, item: Installed | None, rpm: dict[str, RpmPackage] | None
) -> bool:
    """The package database gives ``item``'s version, and no binary outside the package
    shadows it."""
    if item is None or item.version is None or not item.origin.startswith(("deb:", "rpm:")):
        return False
    if (item.component, item.origin) in _BUNDLED:
        return False
    if any(facts.root.exists(p) for p in UNPACKAGED_BINARIES.get(item.component, ())):
        return False
    return not (facts.live and _replaced_since_install(facts, item, rpm))


def _installed_at(facts: Facts, item: Installed, rpm: dict[str, RpmPackage] | None) -> float | None:
    """When the package manager installed ``item``'s package: dpkg's file list written, or
    rpm's INSTALLTIME."""
    kind, _, name = item.origin.partition(":")
    if kind == "deb":
        return _mtime(facts, f"/var/lib/dpkg/info/{name}.list", ctime=False)
    pkg = (rpm or {}).get(name)
    return None if pkg is None or pkg.installed is None else float(pkg.installed)


def _replaced_since_install(
    facts: Facts, item: Installed, rpm: dict[str, RpmPackage] | None
) -> bool:
    """The package's binary changed after the package manager installed it (a release binary
    copied over ``/usr/bin/containerd``): its inode changed later than the package was
    installed. A false alarm costs one ``--version`` run, never a wrong version."""
    listed = _installed_at(facts, item, rpm)
    if listed is None:
        return False
    for path in PACKAGED_BINARIES.get(item.component, ()):
        changed = _mtime(facts, path, ctime=True)
        if changed is not None and changed > listed + _INSTALL_SLACK:
            return True
    return False


def _mtime(facts: Facts, path: str, *, ctime: bool) -> float | None:
    try:
        st = os.stat(facts.root.resolve(path))
    except (OSError, UnsafePathError):
        return None
    return st.st_ctime if ctime else st.st_mtime


_DEB_PACKAGES = frozenset(name for names in DEB_NAMES.values() for name in names)
_RPM_PACKAGES = frozenset(name for names in RPM_NAMES.values() for name in names)


def _parse_dpkg_status(text: str) -> dict[str, DebPackage]:
    """Only the packages nodedoctor asks about (a node has hundreds)."""
    return parse_dpkg_status(text, names=_DEB_PACKAGES)


def _chosen(component: str, names: tuple[str, ...], installed: Mapping[str, object]) -> str | None:
    """The package that gives ``component``'s version: the first of ``names`` installed;
    for runc, ``containerd.io`` (which bundles it) only when no ``runc`` package is."""
    for name in names:
        if name in installed and (component != "runc" or name == "runc" or "runc" not in installed):
            return name
    return None


@record
class _RpmRead:
    """Installed packages of :data:`RPM_NAMES`, where they were read (the database's path or
    the command), and what of it could not be read."""

    packages: dict[str, RpmPackage]
    source: str
    note: str = ""


def _rpm_database(facts: Facts) -> _RpmRead | None:
    """The SQLite database (any root), else ``rpm -q`` where a running node's Berkeley DB
    needs rpm itself (live, or the output a bundle recorded)."""
    # Asked through the root, so that a bundle keeps the directory and replays rpm -q.
    if not any(facts.root.is_dir(d) for d in RPMDB_DIRS):
        return None
    path = find_rpmdb(facts.root)
    if path is not None:
        try:
            read = read_rpmdb_headers(facts.root, path, _RPM_PACKAGES)
        except RpmdbError as exc:
            facts.record_problem(path, None, str(exc))
            return None
        found: dict[str, RpmPackage] = {}
        for hnum, blob in read.headers:
            try:
                pkg = parse_rpm_header(blob)
            except ParseError as exc:
                facts.record_problem(path, None, f"package {hnum}: {exc.message}")
                continue
            if pkg.name in _RPM_PACKAGES:  # installed twice: the later install (hnum order)
                found[pkg.name] = pkg
        note = f" ({read.unread_wal} bytes of {path}-wal not read)" if read.unread_wal else ""
        return _RpmRead(found, path, note)
    if not facts.running or (facts.live and not facts.root.exists(BERKELEY_RPMDB)):
        return None
    result = facts.root.run("rpm-query")
    if result is None or result.missing or result.timed_out or not result.stdout.strip():
        return None
    return _RpmRead(parse_rpm_query(result.stdout), result.display)


def packages(facts: Facts) -> Packages:
    found: dict[str, Installed] = {}
    deb = facts.parse("/var/lib/dpkg/status", _parse_dpkg_status)
    if deb:
        for component, names in DEB_NAMES.items():
            name = _chosen(component, names, deb)
            if name is not None:
                pkg = deb[name]
                found[component] = Installed(
                    component,
                    Version.parse(pkg.version),
                    file_evidence("/var/lib/dpkg/status", f"{pkg.name} {pkg.version}", pkg.line),
                    f"deb:{pkg.name}",
                )
    read = _rpm_database(facts)
    rpm = None if read is None else read.packages
    if read is not None:
        for component, names in RPM_NAMES.items():
            name = _chosen(component, names, read.packages)
            if name is not None and component not in found:
                rpm_pkg = read.packages[name]
                found[component] = Installed(
                    component,
                    Version.parse(rpm_pkg.evr),
                    Evidence(read.source, rpm_pkg.nvra + read.note),
                    f"rpm:{rpm_pkg.name}",
                )
    snaps: dict[str, Installed] = {}
    for snap in ("microk8s", "k8s"):
        item = _snap(facts, snap)
        if item is not None:
            snaps[snap] = item
    if facts.running:  # live, or the outputs a bundle recorded
        asked = {
            component: command
            for component, command in VERSION_COMMANDS.items()
            if not _package_answers(facts, found.get(component), rpm)
        }
        if facts.root.commands is not None:
            facts.root.commands.start(*asked.values())
        for component, command in asked.items():
            result = facts.root.run(command)
            if result is None or not result.ok:
                continue
            m = _VERSION_IN_OUTPUT[component].search(result.stdout)
            if m:
                first = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
                found[component] = Installed(
                    component, Version.parse(m.group(1)), Evidence(result.display, first), "command"
                )
    return Packages(deb, snaps, found, rpm)
