"""The real containerd binary of this machine, run on a configuration under test, in private
directories only (never the host's /var/lib/containerd, /run/containerd or socket).

Two ways to ask it what it makes of a ``config.toml``:

* :func:`config_dump` runs ``containerd --config FILE config dump``: the effective merged
  configuration (imports resolved, plugin tables replaced or merged as this version does),
  without starting anything.
* :class:`RealContainerd` starts the daemon with ``--config FILE --root DIR --state DIR
  --address SOCK`` (all under a tmp dir; ttrpc listens on ``SOCK.ttrpc``), waits until the socket
  answers, and stops it again::

      with RealContainerd(config_path, tmp_path) as ctd:
          ctd.plugins()        # `ctr plugins ls` rows: {"type", "id", "status"}
          ctd.cri_config_log() # the "Start cri plugin with config {...}" log line, or None
          ctd.log()            # everything the daemon logged

  The configuration's own ``root``/``state``/``[grpc] address`` are overridden by the flags;
  a configuration that makes containerd refuse to start raises :class:`ContainerdFailedError` with
  the daemon's output. Requires root (containerd mounts and creates its directories).

:func:`available` says whether a containerd binary exists; tests skip with
:data:`SKIP_REASON` otherwise. The fix engine's tests reuse this fixture to prove that an edited
file means what it should to the real daemon.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

SKIP_REASON = "no containerd binary on this machine (apt-get install containerd)"
START_TIMEOUT = 15.0


def binary() -> str | None:
    return shutil.which("containerd")


def available() -> bool:
    return binary() is not None


def version() -> str:
    """``containerd --version`` output, e.g. ``containerd github.com/... 1.6.20~ds1 ...``."""
    out = subprocess.run(
        [binary() or "containerd", "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def config_default() -> str:
    """``containerd config default`` of the installed containerd."""
    out = subprocess.run(
        [binary() or "containerd", "config", "default"], capture_output=True, text=True, check=True
    )
    return out.stdout


def config_dump(config: Path, cwd: str = "/") -> subprocess.CompletedProcess[str]:
    """``containerd --config CONFIG config dump`` (returncode != 0 when containerd refuses it),
    run from ``cwd`` (``/`` like containerd.service: containerd 1.x globs relative imports
    from its working directory)."""
    return subprocess.run(
        [binary() or "containerd", "--config", str(config), "config", "dump"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


class ContainerdFailedError(RuntimeError):
    """containerd exited (or never answered) instead of serving."""


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


class RealContainerd:
    def __init__(self, config: Path, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.root = workdir / "ctd-root"
        self.state = workdir / "ctd-state"
        # unix socket paths are limited to 108 bytes: keep it short
        self.address = workdir / "c.sock"
        self.log_path = workdir / "containerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

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

    def start(self) -> None:
        argv = [
            binary() or "containerd",
            "--config",
            str(self.config),
            "--root",
            str(self.root),
            "--state",
            str(self.state),
            "--address",
            str(self.address),
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd="/"
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ContainerdFailedError(
                    f"containerd exited {self.proc.returncode}:\n{self.log()}"
                )
            if _answers(self.address) and "containerd successfully booted" in self.log():
                return
            time.sleep(0.05)
        self.stop()
        raise ContainerdFailedError(
            f"containerd did not answer within {START_TIMEOUT}s:\n{self.log()}"
        )

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # our own child, by its pid
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.proc = None
        # containerd may leave mounts (e.g. a tmpfs for the sandbox shm) only once pods ran;
        # none ran here, so the directories are plain and removable.
        shutil.rmtree(self.state, ignore_errors=True)

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

    def plugins(self) -> list[dict[str, str]]:
        ctr = shutil.which("ctr")
        if ctr is None:
            raise ContainerdFailedError("no ctr binary")
        out = subprocess.run(
            [ctr, "--address", str(self.address), "plugins", "ls"],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        )
        rows = []
        for line in out.stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 4:
                rows.append({"type": fields[0], "id": fields[1], "status": fields[-1]})
        return rows
