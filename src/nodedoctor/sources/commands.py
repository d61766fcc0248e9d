"""The only commands nodedoctor ever runs on a live node: a fixed allowlist, no shell, timeouts.

A missing binary is a fact (``missing=True``), not a crash. Offline roots run nothing;
a bundle replays the outputs recorded when it was collected. Fix and clean run the commands
their plans name through :func:`run_program`: the same runner, so a timeout kills a
command's whole process group everywhere.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from nodedoctor._record import record

if TYPE_CHECKING:
    import subprocess

#: name -> argv. The name is what rules ask for and what bundles record.
ALLOWLIST: dict[str, tuple[str, ...]] = {
    "uname-r": ("uname", "-r"),
    "uname-m": ("uname", "-m"),
    "hostname": ("hostname",),
    "containerd-version": ("containerd", "--version"),
    "runc-version": ("runc", "--version"),
    "crio-version": ("crio", "--version"),
    "kubelet-version": ("kubelet", "--version"),
    "k3s-version": ("k3s", "--version"),
    "docker-info": ("docker", "info", "--format", "{{.CgroupDriver}} {{.CgroupVersion}}"),
    "systemctl-kubelet": (
        "systemctl",
        "show",
        "kubelet.service",
        "-p",
        "ActiveState,NRestarts,Delegate,MainPID",
    ),
    "systemctl-kubelite": (
        "systemctl",
        "show",
        "snap.microk8s.daemon-kubelite.service",
        "-p",
        "ActiveState,NRestarts,Delegate,MainPID",
    ),
    "systemctl-containerd": (
        "systemctl",
        "show",
        "containerd.service",
        "-p",
        "ActiveState,NRestarts,MainPID",
    ),
    "systemctl-version": ("systemctl", "--version"),
    "journalctl-kernel": ("journalctl", "-k", "-b", "--no-pager", "-q", "-n", "2000"),
    "cloud-init-status": ("cloud-init", "status", "--long"),
    # The packet filter rules a torn-down cluster leaves (facts/netfilter.py): each backend's
    # own dump, in the form its restore tool takes back.
    "iptables-save": ("iptables-save",),
    "ip6tables-save": ("ip6tables-save",),
    "iptables-legacy-save": ("iptables-legacy-save",),
    "ip6tables-legacy-save": ("ip6tables-legacy-save",),
    "iptables-nft-save": ("iptables-nft-save",),
    "ip6tables-nft-save": ("ip6tables-nft-save",),
    "nft-list-ruleset": ("nft", "list", "ruleset"),
    # Every interface's addresses: the address an old cluster left on a CNI bridge.
    "ip-addr": ("ip", "-o", "addr", "show"),
    # The kubelet's own recent log (every deployer's unit), for what only it can tell: the
    # pods it finds orphaned (facts/poddirs.py).
    "journalctl-kubelet": (
        "journalctl",
        "-q",
        "--no-pager",
        "-o",
        "cat",
        "--since",
        "-10min",
        "-n",
        "2000",
        "-u",
        "kubelet.service",
        "-u",
        "snap.microk8s.daemon-kubelite.service",
        "-u",
        "k3s.service",
        "-u",
        "k3s-agent.service",
        "-u",
        "rke2-server.service",
        "-u",
        "rke2-agent.service",
    ),
    # RHEL 8's rpm database is Berkeley DB, which only rpm reads: the packages of
    # facts/packages.py RPM_NAMES, one tab-separated line each (parsers/rpmdb.py).
    "rpm-query": (
        "rpm",
        "-q",
        "--qf",
        "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n",
        "kubelet",
        "kubeadm",
        "containerd.io",
        "containerd",
        "runc",
        "cri-o",
        "docker-ce",
        "moby-engine",
        "cri-dockerd",
        "cloud-init",
        "systemd",
        "google-guest-agent",
    ),
}

DEFAULT_TIMEOUT = 5.0
OUTPUT_LIMIT = 1024 * 1024


@record
class CommandResult:
    name: str
    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str = ""
    missing: bool = False
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.missing and not self.timed_out

    @property
    def display(self) -> str:
        return " ".join(self.argv)


class CommandRunner:
    def run(self, name: str) -> CommandResult | None:
        raise NotImplementedError

    def start(self, *names: str) -> None:
        """Begin commands that :meth:`run` will be asked for, so that they run side by side
        (and beside the check's own work); a runner that replays outputs has nothing to do."""

    def close(self) -> None:
        """Stop what :meth:`start` began and nobody collected."""


def _which(program: str) -> str | None:
    """``program``'s file on ``PATH`` (absolute directories only), as ``shutil.which`` finds
    it without the import: an executable that is not a directory."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not directory.startswith("/"):
            continue  # never run a binary from the working directory
        candidate = os.path.join(directory, program)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


#: A command collected after its deadline still gets this long: one that finished while its
#: output waited for us in a full pipe is not a hung one.
COLLECT_GRACE = 0.5
#: How long a killed command's process group gets to be gone: SIGKILL is delivered at once,
#: but each process ends when the kernel next schedules it (one in ``D`` state, later).
KILL_GRACE = 1.0


def _decode(data: bytes, limit: int | None) -> str:
    return (data if limit is None else data[:limit]).decode("utf-8", errors="replace")


class _Command:
    """One command, started at once; :meth:`wait` collects it. Its timeout counts from its
    start, so commands started together wait out their timeouts together."""

    def __init__(
        self,
        name: str,
        argv: tuple[str, ...],
        exe: str,
        timeout: float,
        limit: int | None = OUTPUT_LIMIT,
    ) -> None:
        import subprocess

        self.name, self.argv, self.timeout, self.limit = name, argv, timeout, limit
        self.result: CommandResult | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.deadline = time.monotonic() + timeout
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
        try:
            # Its own process group: a timeout kills what it started too (a grandchild holding
            # its pipes would otherwise keep the check waiting for their end).
            self.proc = subprocess.Popen(
                [exe, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            self.result = CommandResult(name, argv, None, "", stderr=str(exc), missing=True)

    def wait(self) -> CommandResult:
        if self.result is None and self.proc is not None:
            import subprocess

            name, argv, proc = self.name, self.argv, self.proc
            remaining = max(self.deadline - time.monotonic(), min(self.timeout, COLLECT_GRACE))
            with proc:
                try:
                    out, err = proc.communicate(timeout=remaining)
                except subprocess.TimeoutExpired:
                    _kill(proc)
                    self.result = CommandResult(name, argv, None, "", timed_out=True)
                except BaseException:
                    _kill(proc)
                    raise
                else:
                    self.result = CommandResult(
                        name,
                        argv,
                        proc.returncode,
                        _decode(out, self.limit),
                        _decode(err, self.limit),
                    )
        if self.result is None:
            raise RuntimeError(f"command {self.name!r} gave no result")
        return self.result

    def stop(self) -> None:
        """Kill the command if it still runs, and reap it."""
        if self.result is None and self.proc is not None:
            with self.proc as proc:
                _kill(proc)
            self.result = CommandResult(self.name, self.argv, None, "", timed_out=True)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill a command's whole process group, reap it without reading its pipes, and wait
    (at most :data:`KILL_GRACE`) until no process of the group runs any more."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()  # the group is gone; the process itself may not be reaped yet
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    proc.wait()
    deadline = time.monotonic() + KILL_GRACE
    while running_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.001)


def running_in_group(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` that have not ended (a zombie has: it waits
    only for its parent to reap it, and an orphan's parent may be a PID 1 that never does)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []  # no process, not even a zombie
    except PermissionError:
        pass  # some member is another user's: look at each
    running = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
                state, _ppid, pgrp = stat.read().rsplit(b")", 1)[1].split(maxsplit=3)[:3]
        except (OSError, ValueError):
            continue  # ended while we looked
        if int(pgrp) == pgid and state not in (b"Z", b"X"):
            running.append(int(entry))
    return running


def run_program(argv: tuple[str, ...], timeout: float) -> CommandResult:
    """Run ``argv`` now and wait for it, as the allowlisted commands run: no shell, a clean
    environment, a binary from an absolute ``PATH`` directory, its own process group killed
    whole at ``timeout``. Its whole output is kept. For the commands that fix and clean run
    from their plans (which check those commands themselves)."""
    exe = argv[0] if argv[0].startswith("/") else _which(argv[0])
    if exe is None:
        import errno

        missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
        return CommandResult(argv[0], argv, None, "", stderr=str(missing), missing=True)
    return _Command(argv[0], argv, exe, timeout, limit=None).wait()


class LiveCommands(CommandRunner):
    """Runs allowlisted commands on this machine, each once per process (results are cached).

    :meth:`start` begins commands without waiting for them: those a check will need run side
    by side, each with its own timeout from its own start, so a check waits for the slowest
    of them rather than for their sum, and one that hangs costs its timeout once."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._cache: dict[str, CommandResult] = {}
        self._started: dict[str, _Command] = {}

    def start(self, *names: str) -> None:
        for name in names:
            _allowed(name)
            if name not in self._cache and name not in self._started:
                self._begin(name)

    def run(self, name: str) -> CommandResult:
        _allowed(name)
        if name not in self._cache:
            if name not in self._started:
                self._begin(name)
            command = self._started.pop(name, None)
            if command is not None:
                self._cache[name] = command.wait()
        return self._cache[name]

    def _begin(self, name: str) -> None:
        """Start ``name``, or cache its result when there is no binary to start."""
        argv = ALLOWLIST[name]
        exe = _which(argv[0])
        if exe is None:
            self._cache[name] = CommandResult(name, argv, None, "", missing=True)
        else:
            self._started[name] = _Command(name, argv, exe, self.timeout)

    def close(self) -> None:
        for started in self._started.values():
            started.stop()
        self._started.clear()


def _allowed(name: str) -> tuple[str, ...]:
    argv = ALLOWLIST.get(name)
    if argv is None:
        raise KeyError(f"command {name!r} is not on the allowlist")
    return argv


class RecordedCommands(CommandRunner):
    """Outputs recorded in a bundle under ``.nodedoctor/commands/<name>.json``."""

    def __init__(self, recorded: dict[str, CommandResult]) -> None:
        self.recorded = recorded

    def run(self, name: str) -> CommandResult | None:
        return self.recorded.get(name)
