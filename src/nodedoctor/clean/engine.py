"""Apply a clean plan on the live node: unmount, ``rmdir``, verify.

Every step is re-validated right before it runs, against the current
``/proc/self/mountinfo`` and cgroup tree, and skipped (with the reason) when the node no
longer matches the plan:

- ``unmount``: the mount on top at the path must still be the planned one (mount id,
  fstype, source), and no mount the plan does not remove may lie below it. It is unmounted
  with ``umount2(path, UMOUNT_NOFOLLOW)``; when the kernel says ``EBUSY`` it is detached
  (``MNT_DETACH``: gone from the tree now, released when its last user closes it), and the
  result says which.
- ``rmdir``: the path must still be a directory (not a link) inside one of the planned
  hierarchies' kubepods trees, on a cgroup filesystem per the mount table, with an empty
  ``cgroup.procs`` and no child cgroup. Only ``os.rmdir`` is used: no recursive delete,
  ever, so nothing but an empty cgroup can go.

Before anything, the kubelet and container runtime must not run (checked again, not taken
from the plan): ``force`` goes on anyway; ``stop`` stops the kubelet, then the runtime,
through systemd (the only init system it drives) and waits for them to exit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import stat
import time
from collections.abc import Callable, Sequence

from nodedoctor._record import record
from nodedoctor.clean import journal, ops
from nodedoctor.clean.journal import CleanEntry
from nodedoctor.clean.leftovers import CNI_COMPANIONS
from nodedoctor.clean.plan import (
    Blocker,
    CleanPlan,
    Step,
    blockers,
    is_kubepods_top,
    plan_clean,
)
from nodedoctor.facts import Facts
from nodedoctor.facts.cni import CNI_BRIDGES, interface_owner
from nodedoctor.facts.deployers import DEPLOYERS, KUBEADM
from nodedoctor.facts.kubeadm_leftovers import ETCD_DATA_DIR, MANIFESTS_DIR, PKI_DIR, RESET_FILES
from nodedoctor.facts.netfilter import NFT_TABLES, SAVE_TOOLS
from nodedoctor.facts.poddirs import POD_UID
from nodedoctor.facts.system import init_system
from nodedoctor.facts.teardown import (
    CGROUP_ROOT,
    NETNS_DIRS,
    STANDARD_BPFFS,
    teardown_facts,
)
from nodedoctor.i18n import _
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.cni import CNI_CONFIG_SUFFIXES
from nodedoctor.parsers.mountinfo import Mount, parse_mountinfo
from nodedoctor.sources.commands import run_program
from nodedoctor.sources.root import Root, live_root

MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

#: comm -> the systemd units that usually run it (used when ``/proc/<pid>/cgroup`` names
#: none); kubelets are stopped before runtimes.
STOP_UNITS: dict[str, tuple[str, ...]] = {
    "kubelet": ("kubelet.service",),
    "kubelite": ("snap.microk8s.daemon-kubelite.service",),
    "k3s-server": ("k3s.service",),
    "k3s-agent": ("k3s-agent.service",),
    "containerd": ("containerd.service",),
    "crio": ("crio.service",),
    "dockerd": ("docker.socket", "docker.service"),
    "cri-dockerd": ("cri-docker.socket", "cri-docker.service"),
}
STOP_TIMEOUT = 90.0
EXIT_WAIT = 30.0


class CleanRefusedError(Exception):
    """The clean cannot start in this state; the message says why and what to do."""


@record
class Outcome:
    step: Step
    #: done | detached | gone | skipped | failed
    status: str
    detail: str

    def to_json(self) -> dict[str, object]:
        return {**self.step.to_json(), "status": self.status, "detail": self.detail}


@record
class ApplyResult:
    outcomes: tuple[Outcome, ...]
    stopped: tuple[str, ...]
    #: The plan made again afterwards: what is left, and why.
    after: CleanPlan
    #: The clean journal entry that keeps what was removed (``nodedoctor rollback ID``).
    journal: str | None = None

    @property
    def complete(self) -> bool:
        return all(o.status in ("done", "detached", "gone") for o in self.outcomes) and not (
            self.after.steps
        )


def read_mountinfo() -> list[Mount]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        return parse_mountinfo(f.read())


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _umount2(path: str, flags: int) -> int:
    """``umount2(2)``; 0 or the errno."""
    if _libc().umount2(os.fsencode(path), ctypes.c_int(flags)) == 0:
        return 0
    return ctypes.get_errno()


def _top_mount(mounts: Sequence[Mount], path: str) -> Mount | None:
    found = None
    for m in mounts:
        if m.mount_point == path:
            found = m
    return found


def _containing_mount(mounts: Sequence[Mount], path: str) -> Mount | None:
    best: Mount | None = None
    for m in mounts:
        point = m.mount_point.rstrip("/") or "/"
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mount_point.rstrip("/") or "/")):
            best = m
    return best


def _unmount_allowed(step: Step, kubelet_dirs: Sequence[str]) -> bool:
    """The apply-time allowlist, whatever the plan says: never /sys/fs/cgroup or anything
    below it, never the standard bpffs, only the four kinds of leftovers."""
    path = step.path.rstrip("/")
    if not path or path == CGROUP_ROOT or path.startswith(CGROUP_ROOT + "/"):
        return False
    if step.kind == "kubelet":
        return any(path.startswith(d.rstrip("/") + "/") for d in kubelet_dirs)
    if step.kind == "netns":
        return any(path.startswith(f"{d}/cni-") for d in NETNS_DIRS)
    if step.kind == "bpffs":
        return step.fstype == "bpf" and path != STANDARD_BPFFS
    if step.kind == "cgroup":
        return step.fstype in ("cgroup", "cgroup2")
    return False


def _unmount(step: Step) -> Outcome:
    try:
        mounts = read_mountinfo()
    except (OSError, ParseError) as exc:
        return Outcome(
            step, "skipped", _("cannot read /proc/self/mountinfo: {error}").format(error=exc)
        )
    top = _top_mount(mounts, step.path)
    if top is None:
        return Outcome(step, "gone", _("no longer mounted"))
    if (top.mount_id, top.fstype, top.source) != (step.mount_id, step.fstype, step.source):
        return Outcome(
            step,
            "skipped",
            _(
                "changed since the plan: now {fstype} from {source} (mount id {id}), planned "
                "{planned_fstype} from {planned_source} (id {planned_id})"
            ).format(
                fstype=top.fstype,
                source=top.source,
                id=top.mount_id,
                planned_fstype=step.fstype,
                planned_source=step.source,
                planned_id=step.mount_id,
            ),
        )
    prefix = step.path.rstrip("/") + "/"
    # Deeper planned mounts went first; whatever is still below was not (or could not be).
    below = [m for m in mounts if m.mount_point.startswith(prefix)]
    if below:
        return Outcome(
            step,
            "skipped",
            _("{path} ({fstype}) is mounted below it and is not part of the plan").format(
                path=below[0].mount_point, fstype=below[0].fstype
            ),
        )
    err = _umount2(step.path, UMOUNT_NOFOLLOW)
    if err == 0:
        return Outcome(step, "done", _("unmounted"))
    if err == errno.EBUSY:
        err = _umount2(step.path, MNT_DETACH | UMOUNT_NOFOLLOW)
        if err == 0:
            return Outcome(
                step,
                "detached",
                _("busy: detached (MNT_DETACH); freed when its last user exits"),
            )
    if err == errno.EINVAL and _top_mount(read_mountinfo(), step.path) is None:
        return Outcome(step, "gone", _("no longer mounted"))
    return Outcome(step, "failed", _("umount2: {error}").format(error=os.strerror(err)))


def _in_allowlist(step: Step, plan: CleanPlan) -> bool:
    if step.hierarchy not in plan.hierarchies:
        return False
    base = step.hierarchy.rstrip("/")
    return any(
        is_kubepods_top(top)
        and (step.path == f"{base}/{top}" or step.path.startswith(f"{base}/{top}/"))
        for top in plan.kubepods_tops
    )


def _rmdir(step: Step, plan: CleanPlan) -> Outcome:
    path = step.path
    if not _in_allowlist(step, plan) or "/../" in path or path.endswith("/.."):
        return Outcome(step, "skipped", _("outside the kubepods trees of the planned hierarchies"))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Outcome(step, "gone", _("already removed"))
    if not stat.S_ISDIR(st.st_mode):
        return Outcome(step, "skipped", _("no longer a directory"))
    try:
        mounts = read_mountinfo()
    except (OSError, ParseError) as exc:
        return Outcome(
            step, "skipped", _("cannot read /proc/self/mountinfo: {error}").format(error=exc)
        )
    fs = _containing_mount(mounts, path)
    if fs is None or fs.fstype not in ("cgroup", "cgroup2"):
        kind = fs.fstype if fs else "unknown"
        return Outcome(
            step, "skipped", _("not on a cgroup filesystem any more ({kind})").format(kind=kind)
        )
    try:
        with open(os.path.join(path, "cgroup.procs"), encoding="ascii", errors="replace") as f:
            procs = f.read().split()
    except OSError as exc:
        return Outcome(
            step, "skipped", _("cannot read cgroup.procs: {error}").format(error=exc.strerror)
        )
    if procs:
        return Outcome(
            step, "skipped", _("has processes now (pid {pids})").format(pids=", ".join(procs[:5]))
        )
    children = [e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    if children:
        return Outcome(step, "skipped", _("has a child cgroup ({name})").format(name=children[0]))
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return Outcome(step, "gone", _("already removed"))
    except OSError as exc:
        return Outcome(step, "failed", _("rmdir: {error}").format(error=exc.strerror))
    return Outcome(step, "done", _("removed"))


def _run(argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
    ran = run_program(tuple(argv), timeout)
    if ran.timed_out:
        return None, _("timed out")
    return ran.returncode, ran.stderr.strip()


def _describe(found: Sequence[Blocker]) -> str:
    return ", ".join(f"{b.comm} (pid {b.pid})" for b in found)


def stop_daemons(
    facts: Facts,
    found: Sequence[Blocker],
    run: Callable[[Sequence[str], float], tuple[int | None, str]] = _run,
) -> list[str]:
    """Stop the kubelet, then the runtime, through systemd; the units stopped."""
    init = facts.get(init_system)
    if init.systemd is not True:
        raise CleanRefusedError(
            _(
                "--stop drives systemd, but PID 1 is not systemd here; still running: "
                "{running}. Stop them with your init system, then run clean again"
            ).format(running=_describe(found))
        )
    units: list[str] = []
    for role in ("kubelet", "runtime"):
        for b in found:
            if b.role == role:
                # The unit that really runs it (MicroK8s's containerd is a snap service,
                # k3s's is k3s.service); sockets that would start it again go first.
                named = STOP_UNITS.get(b.comm, ())
                sockets = tuple(u for u in named if u.endswith(".socket"))
                wanted = (*sockets, b.unit) if b.unit else named
                units += [u for u in wanted if u not in units]
    stopped: list[str] = []
    for unit in units:
        code, err = run(("systemctl", "stop", unit), STOP_TIMEOUT)
        if code != 0:
            raise CleanRefusedError(
                _("systemctl stop {unit} failed: {error}").format(unit=unit, error=err or code)
            )
        stopped.append(unit)
    return stopped


def _fresh_facts() -> Facts:
    return Facts(live_root())


def apply_plan(
    plan: CleanPlan,
    *,
    force: bool = False,
    stop: bool = False,
    cgroup_root: str | None = None,
    root: Root | None = None,
) -> ApplyResult:
    """Apply ``plan`` to this machine. Raises :class:`CleanRefusedError` when it must not start."""
    if not plan.live:
        raise CleanRefusedError(_("an offline root is planned only; nothing is applied"))
    facts = Facts(root) if root is not None else _fresh_facts()
    running, known = blockers(facts)
    stopped: list[str] = []
    if running and stop:
        stopped = stop_daemons(facts, running)
        deadline = time.monotonic() + EXIT_WAIT
        while running and time.monotonic() < deadline:
            time.sleep(0.5)
            facts = Facts(root) if root is not None else _fresh_facts()
            running, known = blockers(facts)
    if not known and not force:
        raise CleanRefusedError(
            _("cannot tell whether the kubelet or container runtime runs; --force to go on")
        )
    # Only what the running kubelet itself calls orphaned may go while it runs.
    while_running = running and not force
    if while_running and not any(s.while_running for s in plan.steps):
        raise CleanRefusedError(
            _(
                "still running: {running}. The kubelet re-creates pod mounts and cgroups, and "
                "the runtime holds them: stop them first, or use --stop (kubelet, then "
                "runtime, through systemd), or --force"
            ).format(running=_describe(running))
        )
    # The directories the plan classified by (facts.teardown.kubelet_dirs), as the node
    # shows them now.
    kubelet_dirs = facts.get(teardown_facts).kubelet_dirs
    outcomes: list[Outcome] = []
    entry: CleanEntry | None = None
    still_running = _("still running: {running}").format(running=_describe(running))
    with journal.locked():
        for step in plan.steps:
            if while_running and not step.while_running:
                outcomes.append(Outcome(step, "skipped", still_running))
            elif step.action == "unmount" and not _unmount_allowed(step, kubelet_dirs):
                outcomes.append(Outcome(step, "skipped", _("outside what clean may unmount")))
            elif step.action == "unmount":
                outcomes.append(_unmount(step))
            elif step.action == "rmdir":
                outcomes.append(_rmdir(step, plan))
            elif not leftover_allowed(step, kubelet_dirs):
                outcomes.append(Outcome(step, "skipped", _("outside what clean may remove")))
            else:
                if entry is None:
                    entry = journal.begin()
                done = _journaled(entry, step)
                outcomes.append(Outcome(step, done.status, done.detail))
        if entry is not None:
            entry.state = "applied"
            entry.save()
    after_facts = Facts(root) if root is not None else _fresh_facts()
    after = plan_clean(after_facts, cgroup_root)
    return ApplyResult(tuple(outcomes), tuple(stopped), after, entry.id if entry else None)


def _journaled(entry: CleanEntry, step: Step) -> ops.Done:
    if step.action == "move":
        return ops.move_out(entry, step.path)
    if step.action == "delete-link":
        return ops.delete_link(entry, step.path)
    if step.action == "remove-chains":
        return ops.remove_chains(entry, step.command, step.table)
    return ops.delete_table(entry, step.table)


def leftover_allowed(step: Step, kubelet_dirs: Sequence[str]) -> bool:
    """The apply-time allowlist of the journaled steps, whatever the plan says: what a
    cluster's teardown leaves, by path, name or table (facts/cni.py, facts/netfilter.py,
    facts/kubeadm_leftovers.py, facts/poddirs.py)."""
    path = step.path
    if "/../" in path or path.endswith("/..") or "/./" in path:
        return False
    parent, _sep, name = path.rpartition("/")
    if step.action == "move" and step.kind == "pod-dir":
        return bool(POD_UID.match(name)) and any(
            parent == d.rstrip("/") + "/pods" for d in kubelet_dirs
        )
    if step.action == "move" and step.kind == "cni-config":
        conf_dirs = {d.cni_conf_dir for d in (KUBEADM, *DEPLOYERS)}
        companions = {n for names in CNI_COMPANIONS.values() for n in names}
        return parent in conf_dirs and (name.endswith(CNI_CONFIG_SUFFIXES) or name in companions)
    if step.action == "move" and step.kind == "cni-state":
        state_dirs = {p for d in (KUBEADM, *DEPLOYERS) for p in d.cni_state_dirs}
        return any(path == s or path.startswith(s + "/") for s in state_dirs)
    if step.action == "move" and step.kind == "kubeadm":
        return (
            path in RESET_FILES
            or path == PKI_DIR
            or (parent in (MANIFESTS_DIR, ETCD_DATA_DIR) and bool(name))
        )
    if step.action == "delete-link":
        if not os.path.lexists(f"/sys/class/net/{path}"):
            return True  # gone already (a veth goes with its peer's namespace)
        return interface_owner(path) is not None or (
            path.startswith("veth") and _master_now(path) in CNI_BRIDGES
        )
    if step.action == "remove-chains":
        return step.command in {c for tools in SAVE_TOOLS.values() for c in tools}
    if step.action == "delete-table":
        family, _sep, table = step.table.partition(" ")
        return (family, table) in NFT_TABLES
    return False


def _master_now(name: str) -> str:
    try:
        return os.path.basename(os.readlink(f"/sys/class/net/{name}/master"))
    except OSError:
        return ""
