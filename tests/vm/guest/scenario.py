#!/usr/bin/python3
"""The scenario tests/vm runs in the VM, as root, on Debian 12's systemd 252 with pure cgroup v2.

The image's ``nodedoctor-vm-run.service`` (scripts/build_vm_image) runs it at boot as
``run SHARE``. The share holds ``nodedoctor.pyz`` (scripts/build_zipapp.py) and two node
layouts, ``nodes/kubeadm`` and ``nodes/microk8s``: real unit and configuration files from
tests/roots and tests/nodes with the stand-ins (kubelet_standin.py, containerd_standin.py) at
the paths their units run. The scenario only observes and records: every command with its exit
code, output and duration, the units' properties and the cgroup files, in ``result.json`` on
the share (rewritten after each step, so a run cut short still tells how far it got). The test
(tests/vm/test_real_systemd.py) judges them.

1. ``clean``: kubeadm's ``kubelet.service`` and upstream's ``containerd.service`` run their
   stand-ins; the kubelet stand-in makes kubepods and its QoS cgroups. ``clean`` plans,
   ``clean --apply --yes`` must refuse, ``clean --apply --yes --stop`` stops both and removes the
   cgroups, a second ``clean`` plans nothing.
2. ``incident``: MicroK8s 1.29's containerd stand-in runs; its kubelite stand-in starts, makes
   kubepods, and a ``systemctl daemon-reload`` during its start-up takes cpu and cpuset back
   from the root: it crash-loops with kubelet 1.29's error. ``check`` (live), ``why`` with the
   journal line, ``collect`` (the test checks the bundle outside the VM).
3. ``fix``: ``fix --apply`` writes the ``Delegate=yes`` drop-in and reloads; a restart; kubepods
   gets cpuset and the stand-in runs; a further reload keeps it; ``check`` finds no error.
4. ``rollback``: the drop-in goes, and what systemd reports right after, without a manual
   reload (one is made afterwards, and recorded, only when systemd still needs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

CGROUP = "/sys/fs/cgroup"
KUBEPODS = f"{CGROUP}/kubepods"
KUBELITE = "snap.microk8s.daemon-kubelite.service"
MICROK8S_CONTAINERD = "snap.microk8s.daemon-containerd.service"
MICROK8S_SOCKET = "/var/snap/microk8s/common/run/containerd.sock"
KUBELET = "kubelet.service"
CONTAINERD = "containerd.service"
#: What `systemctl show` is asked about each unit.
UNIT_PROPERTIES = (
    "ActiveState",
    "SubState",
    "MainPID",
    "NRestarts",
    "Delegate",
    "DelegateControllers",
    "DropInPaths",
    "NeedDaemonReload",
    "ControlGroup",
    "InactiveEnterTimestampMonotonic",
)
PYTHON = "/usr/bin/python3"
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "NODEDOCTOR_CACHE_DIR": "/var/cache/nodedoctor-zip",
}

Record = dict[str, Any]


class Scenario:
    def __init__(self, share: str) -> None:
        self.share = share
        self.pyz = os.path.join(share, "nodedoctor.pyz")
        self.started = time.monotonic()
        self.result: Record = {"phases": {}, "errors": {}, "seconds": {}}
        #: What the kubeadm phase installed, removed before the MicroK8s phase.
        self.kubeadm_files: list[str] = []

    # -- recording ---------------------------------------------------------------------------

    def save(self) -> None:
        self.result["elapsed"] = round(time.monotonic() - self.started, 1)
        path = os.path.join(self.share, "result.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(self.result, f, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)

    def phase(self, name: str, body: Callable[[Record], None]) -> None:
        record: Record = {}
        self.result["phases"][name] = record
        began = time.monotonic()
        try:
            body(record)
        except Exception:  # any failure is recorded, for the test to report
            self.result["errors"][name] = traceback.format_exc()
        self.result["seconds"][name] = round(time.monotonic() - began, 1)
        self.save()

    # -- observing ---------------------------------------------------------------------------

    def sh(self, *argv: str, timeout: float = 120) -> Record:
        began = time.monotonic()
        try:
            ran = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                env=ENV,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return {"argv": list(argv), "rc": None, "timed_out": True, "stderr": str(exc)}
        return {
            "argv": list(argv),
            "rc": ran.returncode,
            "stdout": ran.stdout,
            "stderr": ran.stderr,
            "seconds": round(time.monotonic() - began, 2),
        }

    def nodedoctor(self, *args: str) -> Record:
        """A run of the zipapp by the guest's python3, as on a node without pip; its JSON
        output parsed when asked for."""
        ran = self.sh(PYTHON, "-I", "-S", self.pyz, *args, timeout=900)
        if "json" in args and ran.get("stdout"):
            try:
                ran["json"] = json.loads(ran["stdout"])
            except ValueError as exc:
                ran["json_error"] = str(exc)
        return ran

    def show(self, unit: str) -> dict[str, str]:
        ran = self.sh("systemctl", "show", unit, *(f"--property={p}" for p in UNIT_PROPERTIES))
        out: dict[str, str] = {}
        for line in str(ran.get("stdout", "")).splitlines():
            key, _, value = line.partition("=")
            out[key] = value
        return out

    def journal(self, *units: str, fmt: str = "cat") -> list[str]:
        ran = self.sh("journalctl", "--no-pager", "-o", fmt, *(f"--unit={u}" for u in units))
        return str(ran.get("stdout", "")).splitlines()

    def stop_jobs(self, *units: str) -> list[Record]:
        """systemd's "stop job done" entries for ``units``, oldest first, with the monotonic
        time: the order in which they stopped (an inactive unit may be unloaded, and its
        timestamps in `systemctl show` with it)."""
        out: list[Record] = []
        for line in self.journal(*units, fmt="json"):
            entry = json.loads(line)
            if entry.get("JOB_TYPE") == "stop" and entry.get("UNIT") in units:
                out.append(
                    {
                        "unit": entry["UNIT"],
                        "result": entry.get("JOB_RESULT"),
                        "monotonic_us": int(entry["__MONOTONIC_TIMESTAMP"]),
                    }
                )
        return sorted(out, key=lambda e: int(e["monotonic_us"]))

    @staticmethod
    def read(path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            return None

    @staticmethod
    def tree(top: str) -> list[str]:
        """The cgroup directories at and below ``top``, relative to the root."""
        found: list[str] = []
        for directory, _, _ in os.walk(top):
            found.append(os.path.relpath(directory, CGROUP))
        return sorted(found)

    def cgroups(self) -> Record:
        """The root's controllers and what each kubepods cgroup has and holds."""
        out: Record = {
            "root_controllers": self.read(f"{CGROUP}/cgroup.controllers"),
            "root_subtree_control": self.read(f"{CGROUP}/cgroup.subtree_control"),
            "system_slice_subtree_control": self.read(
                f"{CGROUP}/system.slice/cgroup.subtree_control"
            ),
            "kubepods": {},
        }
        for rel in self.tree(KUBEPODS):
            path = f"{CGROUP}/{rel}"
            out["kubepods"][rel] = {
                "controllers": self.read(f"{path}/cgroup.controllers"),
                "subtree_control": self.read(f"{path}/cgroup.subtree_control"),
                "procs": self.read(f"{path}/cgroup.procs"),
            }
        return out

    @staticmethod
    def wait(predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.25)
        return predicate()

    # -- acting ------------------------------------------------------------------------------

    def install(self, node: str) -> list[str]:
        """Copy ``nodes/<node>`` onto ``/`` (links as links, modes kept); the files copied."""
        source = os.path.join(self.share, "nodes", node)
        copied: list[str] = []
        for directory, dirs, files in os.walk(source):
            rel = os.path.relpath(directory, source)
            target_dir = os.path.normpath(os.path.join("/", rel))
            os.makedirs(target_dir, exist_ok=True)
            for name in sorted(dirs + files):
                src = os.path.join(directory, name)
                dst = os.path.join(target_dir, name)
                if os.path.islink(src):
                    if os.path.lexists(dst):
                        os.unlink(dst)
                    os.symlink(os.readlink(src), dst)
                    copied.append(dst)
                elif os.path.isfile(src):
                    shutil.copy2(src, dst)
                    copied.append(dst)
        return copied

    @staticmethod
    def uninstall(paths: list[str]) -> None:
        for path in sorted(paths, reverse=True):
            if os.path.lexists(path):
                os.unlink(path)

    def remove_kubepods(self) -> None:
        """The scenario's own reset between phases: rmdir, deepest first."""
        for rel in sorted(self.tree(KUBEPODS), key=lambda r: -r.count("/")):
            os.rmdir(f"{CGROUP}/{rel}")

    # -- the phases --------------------------------------------------------------------------

    def node(self, r: Record) -> None:
        r["kernel"] = self.sh("uname", "-r")["stdout"].strip()
        r["pid1"] = self.read("/proc/1/comm")
        r["systemd"] = self.sh("systemctl", "--version")["stdout"].splitlines()[0]
        r["python"] = sys.version.split()[0]
        mounts = self.read("/proc/self/mountinfo") or ""
        r["cgroup_mounts"] = [
            line for line in mounts.splitlines() if " - cgroup" in line or "/sys/fs/cgroup" in line
        ]
        r["proc_cgroups"] = self.read("/proc/cgroups")
        r["cgroups"] = self.cgroups()
        r["version"] = self.nodedoctor("--version")

    def clean(self, r: Record) -> None:
        self.kubeadm_files = self.install("kubeadm")
        r["installed"] = self.kubeadm_files
        r["reload"] = self.sh("systemctl", "daemon-reload")
        r["start"] = self.sh("systemctl", "start", CONTAINERD, KUBELET)
        r["kubelet_ready"] = self.wait(
            lambda: all(os.path.isdir(f"{KUBEPODS}/{q}") for q in ("burstable", "besteffort")),
            120,
        )
        r["units_before"] = {u: self.show(u) for u in (KUBELET, CONTAINERD)}
        r["cgroups_before"] = self.cgroups()
        r["plan"] = self.nodedoctor("clean", "--format", "json")
        r["apply_without_stop"] = self.nodedoctor("clean", "--apply", "--yes", "--format", "json")
        r["units_after_refusal"] = {u: self.show(u) for u in (KUBELET, CONTAINERD)}
        r["cgroups_after_refusal"] = self.cgroups()
        r["apply_stop"] = self.nodedoctor("clean", "--apply", "--yes", "--stop", "--format", "json")
        r["units_after"] = {u: self.show(u) for u in (KUBELET, CONTAINERD)}
        r["stop_jobs"] = self.stop_jobs(KUBELET, CONTAINERD)
        r["journal"] = self.journal(KUBELET, CONTAINERD, fmt="short-monotonic")
        r["processes_after"] = self.sh("ps", "-eo", "pid,ppid,comm,cgroup,args")["stdout"]
        r["cgroups_after"] = self.cgroups()
        r["kubepods_exists_after"] = os.path.exists(KUBEPODS)
        r["second_plan"] = self.nodedoctor("clean", "--format", "json")

    def between(self, r: Record) -> None:
        """From the kubeadm node to a MicroK8s one, whatever the clean phase left."""
        r["stop"] = self.sh("systemctl", "stop", KUBELET, CONTAINERD)
        self.uninstall(self.kubeadm_files)
        if os.path.isdir(KUBEPODS):
            r["kubepods_left"] = self.tree(KUBEPODS)
            self.remove_kubepods()
        r["reload"] = self.sh("systemctl", "daemon-reload")

    def race(self) -> Record:
        """Start kubelite and reload systemd while it starts up (snapd's reload at boot)."""
        attempt: Record = {"start": self.sh("systemctl", "start", KUBELITE)}
        attempt["kubepods_made"] = self.wait(lambda: os.path.isdir(KUBEPODS), 120)
        attempt["before_reload"] = self.cgroups()
        attempt["reload"] = self.sh("systemctl", "daemon-reload")
        attempt["after_reload"] = self.cgroups()
        # The QoS cgroups made already: the stand-in validated before the reload was done.
        attempt["reload_in_window"] = not os.path.isdir(f"{KUBEPODS}/burstable")
        return attempt

    def incident(self, r: Record) -> None:
        r["installed"] = self.install("microk8s")
        r["reload_install"] = self.sh("systemctl", "daemon-reload")
        r["containerd"] = self.sh("systemctl", "start", MICROK8S_CONTAINERD)
        r["containerd_unit"] = self.show(MICROK8S_CONTAINERD)
        r["containerd_socket"] = os.path.exists(MICROK8S_SOCKET)
        # Under emulation a reload can outlast the stand-in's start-up on a busy machine; the
        # race is then run again from the start (at most three times, each recorded).
        r["attempts"] = [self.race()]
        while not r["attempts"][-1]["reload_in_window"] and len(r["attempts"]) < 3:
            self.sh("systemctl", "stop", KUBELITE)
            self.remove_kubepods()
            r["attempts"].append(self.race())
        r["crash_looping"] = self.wait(lambda: int(self.show(KUBELITE)["NRestarts"]) >= 2, 180)
        r["unit"] = self.show(KUBELITE)
        r["journal"] = self.journal(KUBELITE)
        r["cgroups"] = self.cgroups()
        r["check"] = self.nodedoctor("check", "--format", "json")
        errors = [line for line in r["journal"] if "Failed to start ContainerManager" in line]
        if errors:
            r["why"] = self.nodedoctor("why", "--format", "json", errors[-1])
        r["collect"] = self.nodedoctor(
            "collect", "-o", os.path.join(self.share, "bundle.tar.gz"), "--format", "json"
        )

    def fix(self, r: Record) -> None:
        r["plan"] = self.nodedoctor("fix", "--format", "json")
        r["apply"] = self.nodedoctor("fix", "--apply", "--yes", "--format", "json")
        dropin = f"/etc/systemd/system/{KUBELITE}.d/delegate.conf"
        r["dropin_path"] = dropin
        r["dropin"] = self.read(dropin)
        r["unit_after_apply"] = self.show(KUBELITE)
        # The restart the fix leaves to the user.
        r["restart"] = self.sh("systemctl", "restart", KUBELITE)
        pid = self.show(KUBELITE)["MainPID"]
        r["restarted_pid"] = pid
        # This process (not one before the restart) validated kubepods and went on.
        r["validated"] = self.wait(
            lambda: any(
                f" {pid} standin] " in line and "Created the QoS cgroups" in line
                for line in self.journal(KUBELITE)
            ),
            120,
        )
        time.sleep(3)
        r["unit_running"] = self.show(KUBELITE)
        r["main_pid_kept"] = r["unit_running"]["MainPID"] == pid
        r["cgroups"] = self.cgroups()
        r["unit_controllers"] = self.read(
            f"{CGROUP}{r['unit_running']['ControlGroup']}/cgroup.controllers"
        )
        r["reload_again"] = self.sh("systemctl", "daemon-reload")
        r["cgroups_after_reload"] = self.cgroups()
        r["unit_after_reload"] = self.show(KUBELITE)
        r["journal_since_restart"] = self.journal(KUBELITE)
        r["check"] = self.nodedoctor("check", "--format", "json")

    def rollback(self, r: Record) -> None:
        dropin = f"/etc/systemd/system/{KUBELITE}.d/delegate.conf"
        r["rollback"] = self.nodedoctor("rollback", "--format", "json")
        # Read before anything else touches systemd.
        r["unit"] = self.show(KUBELITE)
        r["dropin_exists"] = os.path.exists(dropin)
        r["manual_reload"] = r["unit"].get("NeedDaemonReload") == "yes"
        if r["manual_reload"]:
            r["reload"] = self.sh("systemctl", "daemon-reload")
            r["unit_after_manual_reload"] = self.show(KUBELITE)
        r["cgroups"] = self.cgroups()

    def run(self) -> int:
        self.phase("node", self.node)
        self.phase("clean", self.clean)
        self.phase("between", self.between)
        self.phase("incident", self.incident)
        if "incident" not in self.result["errors"]:
            self.phase("fix", self.fix)
            self.phase("rollback", self.rollback)
        self.result["done"] = True
        self.save()
        return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: run SHARE\n")
        return 2
    return Scenario(argv[1]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
