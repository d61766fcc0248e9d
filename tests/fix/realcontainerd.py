"""Start the machine's real (Debian) containerd on a config file, privately.

The daemon gets its own socket, root and state directories under a temporary directory
and runs in a private mount namespace with a tmpfs over ``/opt`` (the ``opt`` plugin would
otherwise create ``/opt/containerd`` on the host), so a test never touches the machine's
own containerd. Needs root, ``unshare`` and ``containerd``/``ctr`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

START_TIMEOUT = 30.0


def available() -> str | None:
    """``None`` when a real containerd can be started here, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("containerd", "ctr", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def version() -> str:
    out = subprocess.run(
        ["containerd", "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return out.split()[2] if len(out.split()) > 2 else out.strip()


def config_dump(config: Path) -> dict[str, Any]:
    """``containerd --config FILE config dump``: the effective configuration."""
    proc = subprocess.run(
        ["containerd", "--config", str(config), "config", "dump"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"config dump failed: {proc.stderr.strip()}")
    return tomlkit.parse(proc.stdout).unwrap()


@dataclass
class Started:
    ok: bool
    plugins: dict[str, str]  # "type.id" -> status (ok, error, skip)
    log: str

    def status(self, plugin: str) -> str | None:
        return self.plugins.get(plugin)


def start(config: Path, workdir: Path) -> Started:
    """Start containerd with ``config``; wait for its socket; list its plugins; stop it.

    ``ok`` is False when the daemon exits or its socket never answers (the log says why).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    sock = workdir / "c.sock"  # unix socket paths are limited to 108 bytes
    log_path = workdir / "containerd.log"
    inner = (
        "mount -t tmpfs tmpfs /opt && exec containerd "
        f"--config {config} --address {sock} --root {workdir / 'root'} "
        f"--state {workdir / 'state'} --log-level info"
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        plugins: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT
        ok = False
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if sock.exists():
                listed = subprocess.run(
                    ["ctr", "--address", str(sock), "plugins", "ls"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                )
                if listed.returncode == 0:
                    for line in listed.stdout.splitlines()[1:]:
                        fields = line.split()
                        if len(fields) >= 4:
                            plugins[f"{fields[0]}.{fields[1]}"] = fields[-1]
                    ok = True
                    break
            time.sleep(0.2)
        return Started(ok, plugins, log_path.read_text(errors="replace"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for mount_dir in (workdir / "root", workdir / "state"):
            _unmount_below(mount_dir)


def _unmount_below(path: Path) -> None:
    """containerd may leave mounts under its root (snapshots); none survive the private
    namespace, so only plain directories remain to be removed by the test's tmp_path."""
    if not path.exists():
        return
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        points = [line.split()[4] for line in fh]
    leftover = [p for p in points if p.startswith(str(path))]
    if leftover:
        raise RuntimeError(f"mounts left under {path}: {leftover}")
