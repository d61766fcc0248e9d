"""A node root checked as the DaemonSets see it: ``check --root /host`` from a pod (issue 11).

``run_as_daemonset(root, work, invocations)`` copies a node's recorded root to ``work/node``
and starts ``unshare --mount --pid --fork --uts --propagation private`` with this module as
PID 1 of the new PID namespace. PID 1 replays the node's running state from what the root
recorded, and nothing else:

- the node's ``/`` becomes a mount point (the copy bound onto itself) carrying the recorded
  mounts the rules judge: tmpfs under a kubelet directory (``/var/lib/kubelet/``, MicroK8s's
  ``/var/snap/microk8s/common/var/lib/kubelet/``: pods' tokens and secrets) and
  cgroup filesystems outside ``/sys/fs/cgroup`` (a CNI's, read-only);
- a fresh procfs of the new PID namespace at ``/proc``: the host's live ``/proc``. The node's
  recorded kernel files (``cmdline``, ``cgroups``, ``swaps``, ``cpuinfo``,
  ``sys/kernel/osrelease`` ..., and ``sys/net`` as recorded or empty) are bound over their
  live twins, as lxcfs binds its own over a
  container's, so the live view shows the node's kernel and not this machine's;
  ``sys/kernel/hostname`` is left live: it belongs to the reader's UTS namespace;
- the node's ``/`` bound read-only at ``work/host``: the DaemonSet's hostPath ``/host``;
- the UTS namespace's hostname from the node's ``/etc/hostname``;
- where the root records ``/proc/sys/net/ipv4/ip_forward``, a network namespace of PID 1's
  own, the node's, with the network sysctls the root records written into it: a pod sees them
  through ``/proc/1/net``, never this machine's;
- a stand-in for each recorded daemon (``/proc/<pid>/comm`` other than PID 1's): a copy of
  ``sleep`` named like the daemon, so its comm is the daemon's (``kubelet``, ``k3s-server``,
  ``kubelite``, ``containerd``), started with the recorded ``argv[0]``;
- PID 1 itself, the host's init: in a mount namespace of its own (a host's PID 1 is not in the
  pod's), with the recorded cgroup hierarchy mounted read-only at ``/sys/fs/cgroup``, chrooted
  into the node's root, so ``/proc/1/mountinfo`` and ``/proc/1/root`` show the node's own
  paths; its comm is the recorded PID 1's.

The reader then runs each invocation (``python -m nodedoctor ...``, ``{host}`` standing for
``work/host``) in a UTS namespace of its own named like a pod (and, where PID 1 has the node's
network namespace, a network namespace of its own), as a DaemonSet pod without
``hostNetwork`` is. Everything vanishes with the PID namespace.

Limits, each because this machine's kernel is not the node's: the recorded cgroup files under
``/sys/fs/cgroup`` are what the reader reads (the real hierarchy is only in PID 1's table);
v1 hierarchies are mounted only as this machine already has them (a recorded
``cpu,cpuacct`` mounts this machine's hierarchy holding ``cpu``), because a new v1 hierarchy
would take a controller from the host; mounts of other kinds (sysfs, ``/run``, a vfat
``/boot/firmware``) are not replayed.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodedoctor.parsers.mountinfo import parse_mountinfo

REPO = Path(__file__).resolve().parent.parent
#: The pod's hostname: a DaemonSet pod's name.
POD_HOSTNAME = "nodedoctor-npd-x7k2p"
#: Recorded files under /proc that describe the running kernel, bound over the live ones.
KERNEL_FILES = ("cmdline", "cgroups", "swaps", "cpuinfo", "sys/kernel/osrelease", "config.gz")
#: Recorded network sysctls (under /proc): per network namespace, so PID 1 writes them into a
#: network namespace of its own, the node's, which a pod sees through /proc/1/net.
NET_SYSCTLS = (
    "sys/net/ipv4/ip_forward",
    "sys/net/ipv6/conf/all/forwarding",
    "sys/net/ipv6/conf/default/forwarding",
    "sys/net/bridge/bridge-nf-call-iptables",
    "sys/net/bridge/bridge-nf-call-ip6tables",
)
_UNSHARE = ("unshare", "--mount", "--pid", "--fork", "--uts", "--propagation", "private")
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWNET = 0x40000000
_PR_SET_NAME = 15


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def unshare_available() -> bool:
    """Whether this process may make mount, PID and UTS namespaces (root and util-linux)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def _controllers(options: tuple[str, ...]) -> frozenset[str]:
    """A v1 hierarchy's controllers from its super options (``name=systemd`` kept as is)."""
    flags = {"rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "seclabel"}
    return frozenset(o for o in options if "=" not in o and o not in flags) | frozenset(
        o for o in options if o.startswith("name=")
    )


def host_v1_hierarchies() -> list[frozenset[str]]:
    """The v1 hierarchies this machine has mounted: the only ones a test may mount again."""
    table = parse_mountinfo(Path("/proc/self/mountinfo").read_text(encoding="utf-8"))
    found = {_controllers(m.super_options) for m in table if m.fstype == "cgroup"}
    return sorted(found, key=sorted)


def _v1_options(recorded: frozenset[str], host: list[frozenset[str]]) -> str | None:
    """Mount options for a recorded v1 hierarchy: the host's identical one, else the host's
    that shares a controller with it; ``None`` when the host has neither."""
    match = next((h for h in host if h == recorded), None) or next(
        (h for h in host if h & recorded), None
    )
    if match is None:
        return None
    names = sorted(n for n in match if not n.startswith("name="))
    named = sorted(n for n in match if n.startswith("name="))
    return ",".join(["ro", *(names or ["none"]), *named])


def _plan(root: Path, work: Path, invocations: list[list[str]]) -> dict[str, Any]:
    """What PID 1 does, worked out here from the recorded root."""
    node, host, saved = work / "node", work / "host", work / "recorded-proc"
    shutil.copytree(root, node, symlinks=True)
    mountinfo = root / "proc/self/mountinfo"
    recorded = parse_mountinfo(mountinfo.read_text(encoding="utf-8")) if mountinfo.exists() else []
    shared: list[list[str]] = []  # [fstype, options, node path] seen by PID 1 and the reader
    pid1: list[list[str]] = []  # only in PID 1's mount namespace
    host_v1 = host_v1_hierarchies()
    for m in recorded:
        point = m.mount_point
        in_cgroupfs = point == "/sys/fs/cgroup" or point.startswith("/sys/fs/cgroup/")
        if m.fstype == "tmpfs" and "/var/lib/kubelet/" in point:
            size = [o for o in m.super_options if o.startswith("size=")]
            shared.append(["tmpfs", ",".join(size or ["size=1m"]), point])
        elif m.fstype == "cgroup2":
            (pid1 if in_cgroupfs else shared).append(["cgroup2", "ro", point])
        elif m.fstype == "cgroup":
            options = _v1_options(_controllers(m.super_options), host_v1)
            if options is not None:
                (pid1 if in_cgroupfs else shared).append(["cgroup", options, point])
        elif m.fstype == "tmpfs" and point == "/sys/fs/cgroup":
            pid1.append(["tmpfs", "mode=755", point])
    for _, _, point in shared:
        (node / point.lstrip("/")).mkdir(parents=True, exist_ok=True)
    overlays = []
    for name in KERNEL_FILES:
        src = root / "proc" / name
        if src.is_file() and not src.is_symlink():
            (saved / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, saved / name)
            overlays.append([str(saved / name), f"/proc/{name}"])
    # The node's network settings (ip_forward ...): as recorded, else none at all. This
    # machine's own /proc/sys/net is not the node's, so it must not show through.
    net = saved / "sys-net"
    if (root / "proc/sys/net").is_dir():
        shutil.copytree(root / "proc/sys/net", net, symlinks=True)
    else:
        net.mkdir()
    overlays.append([str(net), "/proc/sys/net"])
    net_sysctls = []
    for name in NET_SYSCTLS:
        src = root / "proc" / name
        if src.is_file() and not src.is_symlink():
            net_sysctls.append([f"/proc/{name}", src.read_text(encoding="utf-8").strip()])
    standins, pid1_comm = [], "systemd"
    for entry in sorted((root / "proc").iterdir()) if (root / "proc").is_dir() else []:
        comm_file = entry / "comm"
        if not entry.name.isdigit() or not comm_file.is_file():
            continue
        comm = comm_file.read_text(encoding="utf-8").strip()
        if entry.name == "1":
            pid1_comm = comm
            continue
        raw = (entry / "cmdline").read_bytes() if (entry / "cmdline").is_file() else b""
        argv0 = raw.split(b"\0")[0].decode() or comm
        binary = work / "standin" / comm
        binary.parent.mkdir(exist_ok=True)
        shutil.copy2(shutil.which("sleep") or "/bin/sleep", binary)
        standins.append([str(binary), argv0])
    hostname_file = root / "etc/hostname"
    hostname = hostname_file.read_text(encoding="utf-8").strip() if hostname_file.exists() else ""
    host.mkdir()
    return {
        "node": str(node),
        "host": str(host),
        "out": str(work / "results.json"),
        "hostname": hostname or "localhost",
        "pid1_comm": pid1_comm,
        "shared_mounts": shared,
        "pid1_mounts": pid1,
        "overlays": overlays,
        "net_sysctls": net_sysctls,
        # A root that records no ip_forward shows nothing of the node's network: PID 1 and
        # the reader then stay in this machine's namespace, whose values the empty
        # /proc/sys/net hides, instead of a new one that would inherit this machine's.
        "own_netns": any(p.endswith("/ipv4/ip_forward") for p, _ in net_sysctls),
        "standins": standins,
        "invocations": [[a.replace("{host}", str(host)) for a in argv] for argv in invocations],
    }


def run_as_daemonset(root: Path, work: Path, invocations: list[list[str]]) -> list[Invocation]:
    """Run each ``nodedoctor`` invocation (``{host}`` for the host's ``/``) against ``root``
    replayed as a running host, from a pod's point of view (see the module's docstring)."""
    plan = _plan(root, work, invocations)
    spec = work / "plan.json"
    spec.write_text(json.dumps(plan), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'src'}"}
    done = subprocess.run(
        [*_UNSHARE, sys.executable, "-m", "tests.incluster", str(spec)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=REPO,
        check=False,
    )
    results = Path(plan["out"])
    if done.returncode != 0 or not results.exists():
        raise RuntimeError(f"in-cluster run failed ({done.returncode}): {done.stderr[-4000:]}")
    return [
        Invocation(tuple(r["argv"]), r["returncode"], r["stdout"], r["stderr"])
        for r in json.loads(results.read_text(encoding="utf-8"))
    ]


def leftover_processes(work: Path) -> list[int]:
    """PIDs of processes still running a stand-in of ``work`` (none once the namespace is gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
        except OSError:
            continue
        if exe.startswith(str(work / "standin") + "/"):
            found.append(int(entry.name))
    return found


# -- PID 1 of the namespace ---------------------------------------------------------------


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _mount(fstype: str, options: str, target: str) -> None:
    subprocess.run(["mount", "-t", fstype, "-o", options, fstype, target], check=True)


def _bind(source: str, target: str, *extra: str) -> None:
    subprocess.run(["mount", *extra, source, target], check=True)


def _read_as_pod(plan: dict[str, Any], go: int) -> None:
    """The reader: waits for PID 1, then runs the invocations in a pod's UTS namespace."""
    os.read(go, 1)
    _libc_call("unshare", _CLONE_NEWUTS | (_CLONE_NEWNET if plan["own_netns"] else 0))
    socket.sethostname(POD_HOSTNAME)
    results = []
    for argv in plan["invocations"]:
        done = subprocess.run(
            [sys.executable, "-m", "nodedoctor", *argv],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        results.append(
            {
                "argv": argv,
                "returncode": done.returncode,
                "stdout": done.stdout,
                "stderr": done.stderr,
            }
        )
    Path(plan["out"]).write_text(json.dumps(results), encoding="utf-8")


def init(plan: dict[str, Any]) -> int:
    """PID 1: set the node up, start the daemons' stand-ins and the reader, become the
    node's init (chrooted), and wait for the reader."""
    node, host = plan["node"], plan["host"]
    # The node's network namespace: its recorded sysctls, never this machine's.
    if plan["own_netns"]:
        _libc_call("unshare", _CLONE_NEWNET)
    for path, value in plan["net_sysctls"] if plan["own_netns"] else ():
        if os.path.isfile(path):
            Path(path).write_text(value + "\n", encoding="utf-8")
    _bind(node, node, "--bind")
    for fstype, options, point in plan["shared_mounts"]:
        _mount(fstype, options, node + point)
    _mount("proc", "nosuid,nodev,noexec", node + "/proc")
    for saved, path in plan["overlays"]:
        if os.path.isfile(node + path) or (os.path.isdir(saved) and os.path.isdir(node + path)):
            _bind(saved, node + path, "--bind")
    _bind(node, host, "--rbind")
    _bind(host, host, "-o", "remount,bind,ro")
    socket.sethostname(plan["hostname"])
    daemons = []
    for binary, argv0 in plan["standins"]:
        pid = os.fork()
        if pid == 0:
            os.execv(binary, [argv0, "infinity"])  # noqa: S606 -- a copy of sleep, no shell
        daemons.append(pid)
    go_read, go_write = os.pipe()
    reader = os.fork()
    if reader == 0:
        os.close(go_write)
        try:
            _read_as_pod(plan, go_read)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    os.close(go_read)
    _libc_call("unshare", _CLONE_NEWNS)
    for fstype, options, point in plan["pid1_mounts"]:
        os.makedirs(node + point, exist_ok=True)
        _mount(fstype, options, node + point)
    os.chroot(node)
    os.chdir("/")
    _libc_call("prctl", _PR_SET_NAME, plan["pid1_comm"].encode()[:15], 0, 0, 0)
    os.write(go_write, b"1")
    _, status = os.waitpid(reader, 0)
    for pid in daemons:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(init(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
