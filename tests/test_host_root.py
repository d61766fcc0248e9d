"""``--root /host`` on a live host's filesystem (the DaemonSet's view), with a real procfs.

Inside ``unshare --mount --propagation private`` the machine's ``/proc`` is bind-mounted into
a temporary root, as a hostPath volume puts it at ``/host/proc``. There ``proc/self`` is the
reader's (this namespace, with the bind mount in it) and ``proc/1`` is the host's: the mount
facts must read PID 1's table. The bind mount vanishes with the namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.mounts import mount_table
from nodedoctor.facts.system import hostname
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("unshare") is None,
        reason="needs root and unshare(1) for a private mount namespace",
    ),
]

PROBE = """
import json, sys
from nodedoctor.facts import Facts
from nodedoctor.facts.mounts import mount_table
from nodedoctor.sources.root import directory_root
table = mount_table(Facts(directory_root(sys.argv[1])))
print(json.dumps({"source": table.source, "points": [m.mount_point for m in table.mounts]}))
"""


def _with_host_proc(
    root: Path, program: str, *args: str, pod_hostname: str | None = None
) -> dict[str, Any]:
    """Run Python ``program`` with ``root`` (and ``args``) in a private mount namespace where
    this machine's ``/proc`` is bind-mounted at ``root/proc``; its JSON output. With
    ``pod_hostname``, also in a private UTS namespace with that hostname (a pod's)."""
    (root / "proc").mkdir(parents=True)
    quoted = " ".join(f'"{a}"' for a in (root, *args))
    script = f'mount --bind /proc "{root}/proc" && exec "{sys.executable}" -c "$0" {quoted}'
    uts: list[str] = []
    if pod_hostname is not None:
        script = f"hostname {pod_hostname} && {script}"
        uts = ["--uts"]
    out = subprocess.run(
        ["unshare", *uts, "--mount", "--propagation", "private", "sh", "-c", script, program],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_host_proc_reads_pid1_mount_table(tmp_path: Path) -> None:
    root = tmp_path / "host"
    got = _with_host_proc(root, PROBE)
    assert got["source"] == "/proc/1/mountinfo"
    # PID 1 is outside the namespace: the bind mount made in it is not in its table.
    assert f"{root}/proc" not in got["points"]
    assert "/" in got["points"]


COLLECT = """
import json, sys
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.facts.mounts import mount_table
from nodedoctor.facts.processes import processes
from nodedoctor.sources.bundle import open_bundle
from nodedoctor.sources.root import directory_root
direct = mount_table(Facts(directory_root(sys.argv[1])))
result = collect(directory_root(sys.argv[1]), sys.argv[2])
with open_bundle(result.path) as bundle:
    replayed = mount_table(Facts(bundle))
    pid1 = Facts(bundle).get(processes).pid1
    print(json.dumps({
        "direct": [direct.source, [m.mount_point for m in direct.mounts]],
        "replayed": [replayed.source, [m.mount_point for m in replayed.mounts]],
        "self_in_bundle": bundle.exists("/proc/self/mountinfo"),
        "pid1": pid1.comm if pid1 else None,
    }))
"""


def test_a_bundle_of_a_host_root_replays_the_hosts_mount_table(tmp_path: Path) -> None:
    """Collected from ``--root /host`` (a hostPID pod's view), the bundle keeps PID 1's
    table, not the collector's own, and its replay reads the host's mounts."""
    got = _with_host_proc(tmp_path / "host", COLLECT, str(tmp_path / "host.tar.gz"))
    assert got["direct"][0] == "/proc/1/mountinfo"
    assert got["replayed"] == got["direct"]
    assert got["self_in_bundle"] is False
    # The host's PID 1 goes in as the node shows it, and the replay reads it.
    assert got["pid1"] == Path("/proc/1/comm").read_text(encoding="utf-8").strip()


def test_recorded_root_keeps_self_first(tmp_path: Path) -> None:
    for pid, point in (("self", "/self-view"), ("1", "/pid1-view")):
        d = tmp_path / "proc" / pid
        d.mkdir(parents=True)
        (d / "mountinfo").write_text(f"1 0 8:1 / {point} rw - ext4 /dev/sda1 rw\n")
    table = mount_table(Facts(directory_root(str(tmp_path))))
    assert (table.source, [m.mount_point for m in table.mounts]) == (
        "/proc/self/mountinfo",
        ["/self-view"],
    )


def test_procfs_like_link_prefers_pid1(tmp_path: Path) -> None:
    (tmp_path / "proc" / "4242").mkdir(parents=True)
    (tmp_path / "proc" / "4242" / "mountinfo").write_text("1 0 0:50 / / rw - overlay overlay rw\n")
    (tmp_path / "proc" / "self").symlink_to("4242")
    (tmp_path / "proc" / "1").mkdir()
    (tmp_path / "proc" / "1" / "mountinfo").write_text("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
    table = mount_table(Facts(directory_root(str(tmp_path))))
    assert table.source == "/proc/1/mountinfo"
    assert [m.fstype for m in table.mounts] == ["ext4"]


HOSTNAME = """
import json, os, sys
from nodedoctor.cli import main
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.facts.system import hostname
from nodedoctor.sources.bundle import open_bundle
from nodedoctor.sources.root import Root, directory_root
root, bundle = sys.argv[1], sys.argv[2]
with open(root + "/proc/sys/kernel/hostname") as proc:
    seen_in_proc = proc.read().strip()
report = os.path.join(os.path.dirname(root), "report.json")
code = main(["check", "--root", root, "--format", "json", "-o", report])
with open(report) as f:
    reported = json.load(f)["node"]["hostname"]
result = collect(directory_root(root), bundle)
with open_bundle(result.path) as replay:
    replayed = Facts(replay).get(hostname)
    manifest = replay.manifest["hostname"]
    proc_in_bundle = replay.exists("/proc/sys/kernel/hostname")
os.unlink(root + "/etc/hostname")
print(json.dumps({
    "proc": seen_in_proc, "code": code, "reported": reported, "replayed": replayed,
    "manifest": manifest, "proc_in_bundle": proc_in_bundle,
    "without_etc": Facts(directory_root(root)).get(hostname),
    "live": Facts(Root("/", live=True)).get(hostname),
}))
"""


def test_the_hostname_under_host_is_the_nodes_not_the_pods(tmp_path: Path) -> None:
    """In the DaemonSet, /host/proc/sys/kernel/hostname is the pod's (the reader's UTS
    namespace): the report, the bundle and its manifest name the node from its
    /etc/hostname, and without one the name is unknown rather than the pod's."""
    root = tmp_path / "host"
    shutil.copytree(ROOTS / "kubeadm-healthy-v2/root", root, symlinks=True)
    shutil.rmtree(root / "proc")
    node = (root / "etc/hostname").read_text(encoding="utf-8").strip()
    got = _with_host_proc(root, HOSTNAME, str(tmp_path / "b.tar.gz"), pod_hostname="pod-npd-x7")
    assert got["proc"] == "pod-npd-x7"  # what the pod's procfs says
    assert got["live"] == "pod-npd-x7"  # and the reader's own live view
    assert node != "pod-npd-x7"
    assert got["code"] in (0, 1)
    assert got["reported"] == node
    assert got["manifest"] == node
    assert got["replayed"] == node
    assert got["proc_in_bundle"] is False
    assert got["without_etc"] is None


def test_a_recorded_root_names_the_node_from_etc_then_proc(tmp_path: Path) -> None:
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/hostname").write_text("recorded-kernel-name\n")
    assert Facts(directory_root(str(tmp_path))).get(hostname) == "recorded-kernel-name"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hostname").write_text("# set by the installer\n\nnode-3\n")
    assert Facts(directory_root(str(tmp_path))).get(hostname) == "node-3"
