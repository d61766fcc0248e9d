"""``nodedoctor collect``: write a bundle that is itself a root (DESIGN.md "Bundle").

Which files go in is derived, not listed by hand: the whole check runs once on a
:class:`RecordingRoot`, which notes every path the facts layer reads, probes or lists, so a
new rule's files are collected as soon as the rule reads them. :data:`ALWAYS` adds the
files the rules read only in some states (a kubelet config when the kubelet is installed,
say), and the kubepods cgroup tree is walked within bounds. Every file then passes
:mod:`nodedoctor.collect.secrets`: credentials are withheld or redacted line by line. A file
whose existence the rules probed or listed but never read, and a withheld file, goes in as
an empty placeholder, so existence checks and directory listings agree with the node.

Running state goes in as the node shows it: ``/proc/1/comm`` and the ``/proc/<pid>/comm``
and ``cmdline`` of the watched daemons (credential flags redacted), and the output of each
allowlisted command under ``.nodedoctor/commands/<name>.json``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from typing import Any

from nodedoctor import __version__
from nodedoctor._record import field, record
from nodedoctor.collect.probes import expand, socket_owners, watched_pids
from nodedoctor.collect.secrets import redact_argv, redact_text, withheld_reason
from nodedoctor.collect.writer import BundleWriter, tar_dirs, write_members
from nodedoctor.facts import Facts
from nodedoctor.facts.mounts import host_procfs
from nodedoctor.facts.system import hostname
from nodedoctor.sources.bundle import (
    DEFAULT_LIMITS,
    MANIFEST,
    MANIFEST_SCHEMA,
)
from nodedoctor.sources.commands import ALLOWLIST, CommandResult
from nodedoctor.sources.root import DEFAULT_READ_LIMIT, ReadResult, Root

#: Files and globs always collected when present (``dir/*pattern``: entries of ``dir``).
ALWAYS: tuple[str, ...] = (
    "/proc/cmdline",
    "/proc/cgroups",
    "/proc/self/mountinfo",
    "/proc/swaps",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/hostname",
    "/proc/device-tree/model",
    "/proc/1/comm",
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/hostname",
    "/etc/default/grub",
    "/boot/loader/entries/*.conf",  # RHEL 8+ BLS entries: the next boot's command line
    "/boot/grub2/grubenv",  # RHEL 8's $kernelopts, saved_entry
    "/etc/kernel/cmdline",
    "/boot/cmdline.txt",
    "/boot/firmware/cmdline.txt",
    "/var/lib/dpkg/status",
    "/snap/microk8s/current/meta/snap.yaml",
    "/snap/k8s/current/meta/snap.yaml",
    "/sys/fs/cgroup/cgroup.controllers",
    "/sys/fs/cgroup/cgroup.subtree_control",
    "/sys/fs/cgroup/cpu.stat",
    "/sys/class/dmi/id/product_name",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/default/kubelet",
    "/etc/sysconfig/kubelet",
    "/etc/systemd/system/kubelet.service.d/*.conf",
    "/usr/lib/systemd/system/kubelet.service.d/*.conf",
    "/lib/systemd/system/kubelet.service.d/*.conf",
    "/etc/systemd/system/kubelet.service",
    "/usr/lib/systemd/system/kubelet.service",
    "/lib/systemd/system/kubelet.service",
    "/etc/kubernetes/kubelet-config.yaml",
    "/etc/kubernetes/kubelet.env",
    "/var/snap/microk8s/current/args/*",
    "/etc/rancher/k3s/config.yaml",
    "/etc/rancher/k3s/config.yaml.d/*.yaml",
    "/etc/containerd/config.toml",
    "/etc/containerd/conf.d/*.toml",
    "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
    "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
    "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl",
    "/etc/crio/crio.conf",
    "/etc/crio/crio.conf.d/*.conf",
    "/etc/docker/daemon.json",
    "/etc/apparmor.d/runc",
    "/etc/cloud/cloud-init.disabled",
    "/etc/cloud/cloud.cfg",
    "/etc/cloud/cloud.cfg.d/*.cfg",
)

#: Where kubepods lives on each hierarchy (both drivers), walked within the bounds below.
KUBEPODS_NAMES = ("kubepods", "kubepods.slice")
CGROUP_FILES = ("cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.type")
MAX_CGROUP_DIRS = 2000
MAX_CGROUP_DEPTH = 4
#: Entries kept of each directory the rules list (a 5,000-pod node's /var/lib/kubelet/pods
#: holds 5,000; the reader takes 30,000 members in all). A listing the bundle holds only in
#: part is named in the manifest (``incomplete_listings``), and the rules that use it say
#: they cannot tell: a pod left out of the listing is not a pod the kubelet forgot.
MAX_DIR_ENTRIES = 10_000
#: Files read for the explicit list are capped lower than what the rules may read.
ALWAYS_LIMIT = 1024 * 1024
#: Total bytes of file contents in a bundle; past it, files are left out and listed.
TOTAL_LIMIT = 64 * 1024 * 1024

_PID_PATH = re.compile(r"^/proc/(\d+)/")
#: PID 1's files a host's live procfs gives for the host (its mount table, its network
#: namespace's TCP sockets): the reader's own /proc/self ones are the pod's.
_HOST_PID1_FILES = frozenset({"/proc/1/mountinfo", "/proc/1/net/tcp", "/proc/1/net/tcp6"})
_WATCHED_PID_FILES = ("comm", "cmdline", "cgroup")


class RecordingRoot(Root):
    """A root that remembers every node path the facts layer touched."""

    def __init__(self, inner: Root) -> None:
        super().__init__(
            inner.base,
            live=inner.live,
            commands=inner.commands,
            label=inner.label,
            running=inner.running,
        )
        self.files: dict[str, int] = {}
        #: Logs read from the end (``read_tail``): the bundle keeps ``limit + 1`` bytes of the
        #: end, so a tail read of it sees the same window and the same "cut" verdict.
        self.tails: dict[str, int] = {}
        self.probed: set[str] = set()
        self.listed: set[str] = set()
        self.commands_run: set[str] = set()
        #: Links read (``readlink``): a program's alternatives, a process's open sockets.
        self.links: dict[str, str] = {}

    def read_bytes(self, path: str, limit: int = DEFAULT_READ_LIMIT) -> tuple[bytes, bool] | None:
        self.files[path] = max(limit, self.files.get(path, 0))
        return super().read_bytes(path, limit)

    def read_tail(self, path: str, limit: int = DEFAULT_READ_LIMIT) -> ReadResult | None:
        self.tails[path] = max(limit, self.tails.get(path, 0))
        return super().read_tail(path, limit)

    def exists(self, path: str) -> bool:
        self.probed.add(path)
        return super().exists(path)

    def is_dir(self, path: str) -> bool:
        self.probed.add(path)
        return super().is_dir(path)

    def listdir(self, path: str) -> list[str] | None:
        self.listed.add(path)
        return super().listdir(path)

    def readlink(self, path: str) -> str | None:
        target = super().readlink(path)
        if target is not None:
            self.links[path] = target
        return target

    def subdirs(self, path: str) -> list[str] | None:
        # A listing, which the plan keeps whole (each entry, a directory or not).
        self.listed.add(path)
        return self._subdirs_on_disk(path)

    def run(self, name: str) -> CommandResult | None:
        self.commands_run.add(name)
        return super().run(name)


@record
class Plan:
    """What goes into the bundle: node paths of files (with read limits) and directories."""

    files: dict[str, int] = field(default_factory=dict)
    tails: dict[str, int] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    #: Files whose existence the rules probed or listed but whose content they never read:
    #: empty in the bundle, so existence checks and listings agree with the node.
    placeholders: set[str] = field(default_factory=set)
    #: Links the rules read, node path -> target.
    links: dict[str, str] = field(default_factory=dict)
    #: The directories the rules listed, with their entries on the node.
    listings: dict[str, list[str]] = field(default_factory=dict)

    def add_file(self, path: str, limit: int) -> None:
        self.files[path] = max(limit, self.files.get(path, 0))


@record
class CollectResult:
    path: str
    files: tuple[str, ...]
    withheld: tuple[tuple[str, str], ...]
    redacted: tuple[tuple[str, tuple[int, ...]], ...]
    left_out: tuple[str, ...]
    #: (path, why) of each file left out.
    left_out_reasons: tuple[tuple[str, str], ...]
    commands: tuple[str, ...]
    size: int
    #: How many empty directories were left out, and why.
    directories_left_out: tuple[int, str] = (0, "")
    #: (directory, why) of each listing the bundle holds only in part.
    incomplete_listings: tuple[tuple[str, str], ...] = ()


def _record_check(root: Root) -> tuple[RecordingRoot, Facts]:
    """Run every rule once on a recording root; what it touched is what the rules read."""
    from nodedoctor import engine
    from nodedoctor.facts.processes import processes
    from nodedoctor.rules import all_rules

    recording = RecordingRoot(root)
    facts = Facts(recording)
    engine.run(facts, list(all_rules()))
    # The running daemons, whether or not a rule asked: ``--bundle`` must tell them too.
    facts.get(processes)
    return recording, facts


def _kubepods_tree(root: Root, plan: Plan) -> None:
    """The kubepods cgroups of every hierarchy, bounded in depth and count."""
    hierarchies = ["/sys/fs/cgroup"]
    hierarchies += [
        f"/sys/fs/cgroup/{name}"
        for name in root.listdir("/sys/fs/cgroup") or []
        if root.is_dir(f"/sys/fs/cgroup/{name}")
    ]
    budget = MAX_CGROUP_DIRS
    for hierarchy in hierarchies:
        for top in KUBEPODS_NAMES:
            queue = [(f"{hierarchy}/{top}", 0)]
            while queue and budget > 0:
                directory, depth = queue.pop(0)
                entries = root.listdir(directory)
                if entries is None:
                    continue
                budget -= 1
                plan.dirs.add(directory)
                for name in CGROUP_FILES:
                    if name in entries:
                        plan.add_file(f"{directory}/{name}", 64 * 1024)
                if depth >= MAX_CGROUP_DEPTH:
                    continue
                for name in entries:
                    child = f"{directory}/{name}"
                    if "." in name and not name.endswith(".slice") and not name.endswith(".scope"):
                        continue  # interface files, not cgroups
                    if root.is_dir(child):
                        queue.append((child, depth + 1))


def plan_collection(root: Root) -> tuple[Plan, RecordingRoot]:
    recording, facts = _record_check(root)
    plan = Plan()
    touched = set(recording.files) | recording.probed
    keep_pids = watched_pids(root, touched)

    # A live host's /proc under --root (a hostPID pod): proc/self is this process's view,
    # PID 1's mount table is the host's. The bundle keeps PID 1's and not the other, so that
    # its replay (where proc/self is a plain directory) reads the host's; the kernel's
    # hostname there is the pod's (its UTS namespace), so it is left out too.
    host_proc = host_procfs(root)

    def wanted(path: str) -> bool:
        if host_proc and path in ("/proc/self/mountinfo", "/proc/sys/kernel/hostname"):
            return False
        m = _PID_PATH.match(path)
        if m is None:
            return True
        if path == "/proc/1/comm" or (host_proc and path in _HOST_PID1_FILES):
            return True
        return m.group(1) in keep_pids and path.rsplit("/", 1)[-1] in _WATCHED_PID_FILES

    for path, limit in recording.files.items():
        if wanted(path):
            plan.add_file(path, limit)
    for path, limit in recording.tails.items():
        if path not in plan.files:
            plan.tails[path] = limit
    plan.links.update({p: t for p, t in recording.links.items() if not p.startswith("/proc/")})
    for path, target in socket_owners(facts).items():
        plan.links[path] = target
        plan.add_file(path.rsplit("/fd/", 1)[0] + "/comm", 256)
    plan.add_file("/proc/1/comm", 256)
    for pid in sorted(keep_pids - {"1"}):
        for name in _WATCHED_PID_FILES:
            plan.add_file(f"/proc/{pid}/{name}", 64 * 1024)
    for path in recording.probed:
        if not wanted(path) or not root.exists(path):
            continue
        if root.is_dir(path):
            plan.dirs.add(path)
        else:
            plan.placeholders.add(path)
    for directory in recording.listed:
        if directory == "/proc" or _PID_PATH.match(directory + "/"):
            continue  # pids: only the watched daemons' files, added above
        entries = root.listdir(directory)
        if entries is None:
            continue
        plan.dirs.add(directory)
        plan.listings[directory.rstrip("/") or "/"] = entries
        subdirs = set(root.subdirs(directory) or ())
        for name in entries[:MAX_DIR_ENTRIES]:
            child = f"{directory.rstrip('/')}/{name}"
            if name in subdirs:
                plan.dirs.add(child)
            else:
                plan.placeholders.add(child)
    for pattern in ALWAYS:
        for path in expand(root, pattern):
            if wanted(path) and root.exists(path) and not root.is_dir(path):
                plan.add_file(path, ALWAYS_LIMIT)
    _kubepods_tree(root, plan)
    return plan, recording


def _content(root: Root, path: str, limit: int) -> bytes | None:
    """What the bundle holds for ``path``: at most ``limit + 1`` bytes, so a reader with the
    same limit sees the same text and the same "truncated" verdict."""
    got = root.read_bytes(path, limit + 1)
    if got is None:
        return None
    data, _ = got
    return data


def _tail(root: Root, path: str, limit: int) -> bytes | None:
    """The last ``limit + 1`` bytes of ``path``: with one byte more than a reader's window,
    a tail read of the copy drops the same partial first line and says it was cut."""
    got = root._read_raw(path, limit + 1, tail=True)  # the same safe open as every read
    return None if got is None else got[0]


def incomplete_listings(
    listings: dict[str, list[str]], members: set[str], left_out: dict[str, str]
) -> dict[str, str]:
    """Each listed directory of which the bundle's ``members`` (node paths, with the
    directories they imply) miss an entry, with why: past :data:`MAX_DIR_ENTRIES`, or the
    reason a member was left out (``left_out``).

    >>> incomplete_listings({"/d": ["a", "b", "c"], "/e": ["x"]}, {"/d/a", "/e/x"},
    ...                     {"/d/c": "the bundle holds at most 30000 members"})
    {'/d': '2 of its 3 entries are not in the bundle: the bundle holds at most 30000 members'}
    """
    out: dict[str, str] = {}
    for directory, entries in sorted(listings.items()):
        base = directory.rstrip("/")
        missing = [name for name in entries if f"{base}/{name}" not in members]
        if not missing:
            continue
        why = next((left_out[f"{base}/{n}"] for n in missing if f"{base}/{n}" in left_out), None)
        if why is None and len(entries) > MAX_DIR_ENTRIES:
            why = f"collect keeps {MAX_DIR_ENTRIES} entries of a directory"
        out[directory] = f"{len(missing)} of its {len(entries)} entries are not in the bundle" + (
            f": {why}" if why else ""
        )
    return out


def default_output(hostname: str | None, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", hostname or "node")
    return f"nodedoctor-{host}-{stamp}.tar.gz"


def collect(root: Root, output: str | None = None, *, now: float | None = None) -> CollectResult:
    """Write the bundle of ``root`` to ``output`` (atomically, mode 0600)."""
    now = time.time() if now is None else now
    plan, recording = plan_collection(root)
    host = Facts(root).get(hostname)
    output = output or default_output(host, now)

    files: dict[str, bytes] = {}
    withheld: list[tuple[str, str]] = []
    redacted: list[tuple[str, tuple[int, ...]]] = []
    #: path -> why it is not in the bundle (a size budget, or a limit the reader keeps).
    left_out: dict[str, str] = {}
    total = 0
    for path in sorted({*plan.files, *plan.tails}):
        reason = withheld_reason(path)
        if reason is not None:
            withheld.append((path, reason))
            plan.placeholders.add(path)
            continue
        if path in plan.files:
            data = _content(root, path, plan.files[path])
        else:
            data = _tail(root, path, plan.tails[path])
        if data is None:
            continue
        if path.endswith("/cmdline") and path.startswith("/proc/"):
            argv = data.decode("utf-8", errors="replace").split("\x00")
            cleaned = "\x00".join(redact_argv(argv)).encode()
            if cleaned != data.decode("utf-8", errors="replace").encode():
                redacted.append((path, ()))
            data = cleaned
        elif b"\x00" not in data[:8192]:
            text, lines = redact_text(data.decode("utf-8", errors="surrogateescape"))
            if lines:
                redacted.append((path, tuple(lines)))
                data = text.encode("utf-8", errors="surrogateescape")
        if total + len(data) > TOTAL_LIMIT:
            left_out[path] = f"bundle size limit: {TOTAL_LIMIT // (1024 * 1024)} MiB of files"
            continue
        total += len(data)
        files[path] = data

    commands: dict[str, CommandResult] = {}
    if root.commands is not None:
        names = sorted(set(ALLOWLIST) | recording.commands_run) if root.live else []
        names += sorted(recording.commands_run - set(names))
        root.commands.start(*names)  # side by side, each with its own timeout
        try:
            for name in names:
                result = root.run(name)
                if result is not None:
                    commands[name] = result
        finally:
            root.commands.close()

    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=".nodedoctor-collect-", suffix=".tar.gz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as raw:
            # Within the reader's limits: a member it would refuse is left out, with why.
            writer = BundleWriter(raw, DEFAULT_LIMITS, now, reserve=1)  # the manifest
            members_left_out: dict[str, str] = {}
            dirs, placeholders, dirs_left_out = write_members(
                writer,
                files,
                placeholder_paths=plan.placeholders,
                dir_paths=plan.dirs,
                commands=commands,
                left_out=left_out,
                links=plan.links,
                members_left_out=members_left_out,
            )
            members = {*files, *placeholders, *dirs}
            members.update(f"/{d}" for d in tar_dirs(p.lstrip("/") for p in members))
            incomplete = incomplete_listings(
                plan.listings, members, {**left_out, **members_left_out}
            )
            manifest: dict[str, Any] = {
                "schema": MANIFEST_SCHEMA,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "hostname": host,
                "source": root.label,
                # Whether /proc and the command outputs describe a running node (live collect).
                "running": root.running,
                "tool": {"name": "nodedoctor", "version": __version__},
                "files": sorted(files),
                "directories": dirs,
                "placeholders": placeholders,
                "commands": sorted(commands),
                "withheld": [{"path": p, "reason": r} for p, r in withheld],
                "redacted": [{"path": p, "lines": list(lines)} for p, lines in redacted],
                "left_out": sorted(left_out),
                "left_out_reasons": dict(sorted(left_out.items())),
            }
            if dirs_left_out[0]:
                count, why = dirs_left_out
                manifest["directories_left_out"] = {"count": count, "reason": why}
            # Written whatever it holds: its presence says the listings were checked.
            manifest["incomplete_listings"] = incomplete
            writer.add(MANIFEST, json.dumps(manifest, indent=1).encode(), required=True)
            writer.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return CollectResult(
        path=output,
        files=tuple(sorted(files)),
        withheld=tuple(withheld),
        redacted=tuple(redacted),
        left_out=tuple(sorted(left_out)),
        left_out_reasons=tuple(sorted(left_out.items())),
        directories_left_out=dirs_left_out,
        incomplete_listings=tuple(incomplete.items()),
        commands=tuple(sorted(commands)),
        size=os.path.getsize(output),
    )
