"""The only commands nodedoctor ever runs on a live node: a fixed allowlist, no shell, timeouts.

A missing binary is a fact (``missing=True``), not a crash. Offline roots run nothing;
a bundle replays the outputs recorded when it was collected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
}

DEFAULT_TIMEOUT = 5.0
OUTPUT_LIMIT = 1024 * 1024


@dataclass(frozen=True)
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


class LiveCommands(CommandRunner):
    """Runs allowlisted commands on this machine, each once per process (results are cached)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._cache: dict[str, CommandResult] = {}

    def run(self, name: str) -> CommandResult:
        if name not in ALLOWLIST:
            raise KeyError(f"command {name!r} is not on the allowlist")
        if name not in self._cache:
            self._cache[name] = self._run(name, ALLOWLIST[name])
        return self._cache[name]

    def _run(self, name: str, argv: tuple[str, ...]) -> CommandResult:
        # Imported when a command runs (live roots only): offline checks skip their cost.
        import shutil
        import subprocess

        exe = shutil.which(argv[0])
        if exe is None:
            return CommandResult(name, argv, None, "", missing=True)
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
        try:
            proc = subprocess.run(
                [exe, *argv[1:]],
                capture_output=True,
                timeout=self.timeout,
                check=False,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return CommandResult(name, argv, None, "", timed_out=True)
        except OSError as exc:
            return CommandResult(name, argv, None, "", stderr=str(exc), missing=True)
        return CommandResult(
            name,
            argv,
            proc.returncode,
            proc.stdout[:OUTPUT_LIMIT].decode("utf-8", errors="replace"),
            proc.stderr[:OUTPUT_LIMIT].decode("utf-8", errors="replace"),
        )


class RecordedCommands(CommandRunner):
    """Outputs recorded in a bundle under ``.nodedoctor/commands/<name>.json``."""

    def __init__(self, recorded: dict[str, CommandResult]) -> None:
        self.recorded = recorded

    def run(self, name: str) -> CommandResult | None:
        return self.recorded.get(name)
