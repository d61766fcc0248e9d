"""The machine's real containerd (Debian bookworm: 1.6.20), run on a configuration under test
without touching the host: the one helper for every test that asks the real daemon.

Three ways to ask it what it makes of a ``config.toml``:

* :func:`config_dump` runs ``containerd --config FILE config dump`` (the effective merged
  configuration: imports resolved, plugin tables replaced or merged as this version does)
  and returns the process; :func:`effective_config` parses its output (and raises
  :class:`ContainerdFailedError` when containerd refuses the file).
* :class:`RealContainerd` starts the daemon and stops it again::

      with RealContainerd(config_path, tmp_path) as ctd:
          ctd.plugins()         # {"io.containerd.grpc.v1.cri": "ok", ...} (`ctr plugins ls`)
          ctd.cri_config_log()  # the "Start cri plugin with config {...}" log line, or None
          ctd.log()             # everything the daemon logged

  A configuration that makes containerd exit (or never answer) raises
  :class:`ContainerdFailedError` with the daemon's output.
* :func:`start` starts it, lists its plugins and stops it: a :class:`Started` (``ok`` False
  with the log when the daemon refused the configuration).

Nothing is written outside temporary directories. The daemon gets ``--root``/``--state``
directories under the test's directory and its socket in a short private directory
(unix socket paths are limited to 108 bytes); the configuration's own ``root``, ``state`` and
``[grpc] address`` are overridden by those flags. Everything else containerd writes by
default goes to fixed host paths (the ``opt`` plugin creates ``/opt/containerd/{bin,lib}``,
the CRI plugin creates its CNI ``conf_dir`` ``/etc/cni/net.d``), so the daemon, and ``config
dump`` too, run in a private mount namespace (``unshare --mount --propagation private``)
where ``/opt`` is an empty tmpfs and ``/etc``, ``/var`` and ``/run`` are overlays whose
writable layer is under the test's directory: the daemon reads the host's files and writes
only to the test's directory. The namespace dies with the daemon, and its mounts with it.
``tests/test_realcontainerd.py`` proves that a run leaves ``/opt/containerd``,
``/var/lib/containerd``, ``/run/containerd`` and ``/etc/cni`` as they were.

Tests skip with a clear reason: :data:`requires_dump` for :func:`config_dump` (``containerd``
on PATH; as root also ``unshare`` and a private namespace that can be built here; another user
cannot write to those host paths anyway), :data:`requires_daemon` (root, ``unshare``, ``ctr``
and the private namespace) for everything that starts the daemon. :func:`version` and
:func:`config_default` only print.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import tomlkit

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
#: Host directories hidden from the daemon's writes: a tmpfs, then overlays (host files
#: readable, writes diverted to the test's directory).
TMPFS = ("/opt",)
OVERLAID = ("/etc", "/var", "/run")
CRI = "io.containerd.grpc.v1.cri"

#: Run in the private namespace: $1 the overlay directory, $2 the working directory, then the
#: command. ``set -e``: a mount that fails stops it before containerd starts.
_SANDBOX = """set -e
layers=$1; cwd=$2; shift 2
for d in {tmpfs}; do mount -t tmpfs -o mode=0755 nodedoctor-test "$d"; done
for d in {overlaid}; do
  mkdir -p "$layers$d/upper" "$layers$d/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$layers$d/upper,workdir=$layers$d/work" "$d"
done
cd "$cwd"
exec "$@"
""".format(tmpfs=" ".join(TMPFS), overlaid=" ".join(OVERLAID))


def check_layers(layers: Path) -> None:
    """The overlays' writable layers must not sit under a directory the sandbox hides."""
    for hidden in (*TMPFS, *OVERLAID):
        if layers.resolve().is_relative_to(hidden):
            raise ValueError(f"{layers} is under {hidden}, which the sandbox hides")


def _sandboxed(argv: list[str], layers: Path, cwd: str) -> list[str]:
    check_layers(layers)
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        _SANDBOX,
        "sh",
        str(layers),
        cwd,
        *argv,
    ]


class ContainerdFailedError(RuntimeError):
    """containerd exited, refused the configuration, or never answered."""


def missing_binary() -> str | None:
    """Why ``containerd`` cannot be run here (``None``: it can)."""
    if shutil.which("containerd") is None:
        return "no containerd binary on this machine (apt-get install containerd)"
    return None


@functools.cache
def _missing_sandbox() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare on this machine (needed to run containerd privately)"
    with tempfile.TemporaryDirectory(prefix="ctd-") as layers:
        probe = subprocess.run(
            _sandboxed(["true"], Path(layers), "/"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    if probe.returncode != 0:
        return f"cannot build a private mount namespace here: {probe.stderr.strip()}"
    return None


def missing_dump() -> str | None:
    """Why ``config dump`` cannot be run here without touching the host (``None``: it can):
    as root only in the private namespace; another user cannot write to the host paths."""
    why = missing_binary()
    if why is None and os.geteuid() == 0:
        why = _missing_sandbox()
    return why


def missing_daemon() -> str | None:
    """Why the daemon cannot be started here without touching the host (``None``: it can)."""
    why = missing_binary()
    if why is not None:
        return why
    if os.geteuid() != 0:
        return "starting containerd needs root (it mounts and creates its directories)"
    if shutil.which("ctr") is None:
        return "no ctr on this machine (needed to list the daemon's plugins)"
    return _missing_sandbox()


requires_dump = pytest.mark.skipif(
    missing_dump() is not None, reason=f"real containerd: {missing_dump()}"
)
requires_daemon = pytest.mark.skipif(
    missing_daemon() is not None, reason=f"real containerd: {missing_daemon()}"
)


def _binary() -> str:
    return shutil.which("containerd") or "containerd"


def version() -> str:
    """``containerd --version``, e.g. ``containerd github.com/containerd/containerd 1.6.20~ds1
    1.6.20~ds1-1+deb12u3``."""
    out = subprocess.run(
        [_binary(), "--version"], capture_output=True, text=True, check=True, timeout=10
    )
    return out.stdout.strip()


def config_default() -> str:
    """``containerd config default`` of the installed containerd."""
    out = subprocess.run(
        [_binary(), "config", "default"], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout


def config_dump(config: Path, cwd: str = "/") -> subprocess.CompletedProcess[str]:
    """``containerd --config CONFIG config dump`` (returncode != 0 when containerd refuses
    it), run from ``cwd`` (``/`` like containerd.service: containerd 1.x globs relative
    imports from its working directory); in the private namespace when run as root."""
    argv = [_binary(), "--config", str(config), "config", "dump"]
    if os.geteuid() != 0:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=30, check=False, cwd=cwd
        )
    if missing_dump() is not None:
        raise ContainerdFailedError(f"not run as root outside a sandbox: {missing_dump()}")
    with tempfile.TemporaryDirectory(prefix="ctd-") as layers:
        return subprocess.run(
            _sandboxed(argv, Path(layers), cwd),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def effective_config(config: Path, cwd: str = "/") -> dict[str, Any]:
    """The configuration containerd makes of ``config`` (``config dump``, parsed)."""
    proc = config_dump(config, cwd)
    if proc.returncode != 0:
        raise ContainerdFailedError(f"config dump failed: {proc.stderr.strip()}")
    return tomlkit.parse(proc.stdout).unwrap()


def _answers(path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(0.2)
    try:
        sock.connect(str(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace."""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        points = [line.split()[4] for line in fh]
    return [p for p in points if p == str(path) or p.startswith(f"{path}/")]


class RealContainerd:
    """The daemon on ``config``, with its root, state and overlay layers under ``workdir``."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.root = workdir / "ctd-root"
        self.state = workdir / "ctd-state"
        #: The writable layers of the overlays: what the daemon wrote to /etc, /var, /run.
        self.layers = workdir / "ctd-layers"
        self.log_path = workdir / "containerd.log"
        self.address: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        #: Set by :meth:`stop`: the daemon exited on SIGTERM within STOP_TIMEOUT.
        self.stopped_cleanly: bool | None = None

    def __enter__(self) -> RealContainerd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The daemon's pid (``/proc/PID/root`` shows the files as the daemon sees them)."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> None:
        why = missing_daemon()
        if why is not None:
            raise ContainerdFailedError(why)
        check_layers(self.layers)  # before anything is created
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.layers.mkdir(exist_ok=True)
        sockdir = Path(tempfile.mkdtemp(prefix="ctd-", dir="/tmp"))
        self.address = sockdir / "c.sock"
        argv = [
            _binary(),
            "--config",
            str(self.config),
            "--root",
            str(self.root),
            "--state",
            str(self.state),
            "--address",
            str(self.address),
            "--log-level",
            "info",
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                _sandboxed(argv, self.layers, "/"),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise ContainerdFailedError(f"containerd exited {code}:\n{self.log()}")
            if _answers(self.address) and "containerd successfully booted" in self.log():
                return
            time.sleep(0.05)
        self.stop()
        raise ContainerdFailedError(
            f"containerd did not answer within {START_TIMEOUT}s:\n{self.log()}"
        )

    def stop(self) -> None:
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # our own session, by its leader's pid
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                    self.stopped_cleanly = True
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=STOP_TIMEOUT)
                    self.stopped_cleanly = False
            self.proc = None
        if self.address is not None:
            shutil.rmtree(self.address.parent, ignore_errors=True)
            self.address = None
        # The namespace died with the daemon: no mount of it may be visible here.
        left = mounts_under(self.workdir)
        if left:
            raise ContainerdFailedError(f"mounts left under {self.workdir}: {left}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def cri_config_log(self) -> str | None:
        for line in self.log().splitlines():
            if "Start cri plugin with config" in line:
                return line
        return None

    def plugins(self) -> dict[str, str]:
        """``ctr plugins ls``: ``"type.id"`` -> status (``ok``, ``error``, ``skip``)."""
        if self.address is None:
            raise ContainerdFailedError("not started")
        out = subprocess.run(
            ["ctr", "--address", str(self.address), "plugins", "ls"],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        )
        rows: dict[str, str] = {}
        for line in out.stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 4:
                rows[f"{fields[0]}.{fields[1]}"] = fields[-1]
        return rows

    def written(self) -> list[str]:
        """Host paths the daemon wrote to (diverted into the overlays' writable layers)."""
        out: list[str] = []
        for hidden in OVERLAID:
            upper = self.layers / hidden.lstrip("/") / "upper"
            for dirpath, dirnames, filenames in os.walk(upper):
                for name in [*dirnames, *filenames]:
                    out.append(f"{hidden}/{Path(dirpath, name).relative_to(upper)}")
        return sorted(out)


@dataclass
class Started:
    """What one start of the daemon showed (:func:`start`)."""

    ok: bool
    plugins: dict[str, str]
    log: str

    def status(self, plugin: str) -> str | None:
        return self.plugins.get(plugin)


def start(config: Path, workdir: Path) -> Started:
    """Start containerd on ``config``, list its plugins, stop it. ``ok`` is False when the
    daemon exits or never answers (the log says why)."""
    ctd = RealContainerd(config, workdir)
    try:
        ctd.start()
    except ContainerdFailedError:
        return Started(False, {}, ctd.log())
    try:
        plugins = ctd.plugins()
    finally:
        ctd.stop()
    return Started(True, plugins, ctd.log())
