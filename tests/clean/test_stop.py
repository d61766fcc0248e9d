"""``clean --stop``: the kubelet is stopped before the runtime, through systemd only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from nodedoctor.clean.engine import CleanRefusedError, stop_daemons
from nodedoctor.clean.plan import blockers
from nodedoctor.facts import Facts
from nodedoctor.sources.bundle import MANIFEST, MANIFEST_SCHEMA, bundle_directory_root


def _recorded_node(
    base: Path, init: str, daemons: dict[int, str], cgroups: dict[int, str] | None = None
) -> Facts:
    """A recorded (bundle) node: its /proc tells PID 1 and the running daemons."""
    files = {"proc/1/comm": f"{init}\n", MANIFEST: json.dumps({"schema": MANIFEST_SCHEMA})}
    for pid, comm in daemons.items():
        files[f"proc/{pid}/comm"] = f"{comm}\n"
        files[f"proc/{pid}/cmdline"] = f"/usr/bin/{comm}\0"
        if cgroups and pid in cgroups:
            files[f"proc/{pid}/cgroup"] = cgroups[pid]
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text, encoding="utf-8")
    root = bundle_directory_root(str(base))
    assert root is not None
    return Facts(root)


def test_kubelet_units_stop_before_runtime_units(tmp_path: Path) -> None:
    # The runtime has the lower pid: order comes from the role, not from /proc.
    facts = _recorded_node(tmp_path, "systemd", {300: "containerd", 400: "dockerd", 500: "kubelet"})
    found, known = blockers(facts)
    assert known
    calls: list[tuple[str, ...]] = []

    def run(argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
        calls.append(tuple(argv))
        return 0, ""

    stopped = stop_daemons(facts, found, run)
    assert stopped == [
        "kubelet.service",
        "containerd.service",
        "docker.socket",
        "docker.service",
    ]
    assert calls == [("systemctl", "stop", unit) for unit in stopped]


def test_the_unit_comes_from_the_process_cgroup(tmp_path: Path) -> None:
    """MicroK8s: kubelite and its containerd are snap services (v1 hybrid cgroup file)."""
    v1 = "12:pids:/system.slice/{u}\n1:name=systemd:/system.slice/{u}\n0::/system.slice/{u}\n"
    facts = _recorded_node(
        tmp_path,
        "systemd",
        {200: "containerd", 100: "kubelite"},
        {
            200: v1.format(u="snap.microk8s.daemon-containerd.service"),
            100: "0::/system.slice/snap.microk8s.daemon-kubelite.service\n",
        },
    )
    found, _ = blockers(facts)
    stopped = stop_daemons(facts, found, lambda argv, timeout: (0, ""))
    assert stopped == [
        "snap.microk8s.daemon-kubelite.service",
        "snap.microk8s.daemon-containerd.service",
    ]


def test_a_failed_stop_refuses(tmp_path: Path) -> None:
    facts = _recorded_node(tmp_path, "systemd", {500: "kubelet"})
    found, _ = blockers(facts)

    def run(argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
        return 5, "Unit kubelet.service not loaded."

    with pytest.raises(CleanRefusedError, match=r"systemctl stop kubelet.service failed"):
        stop_daemons(facts, found, run)


def test_without_systemd_nothing_is_stopped(tmp_path: Path) -> None:
    facts = _recorded_node(tmp_path, "openrc-init", {500: "k3s-server"})
    found, _ = blockers(facts)

    def run(argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
        raise AssertionError("nothing may run without systemd")

    with pytest.raises(CleanRefusedError, match="PID 1 is not systemd"):
        stop_daemons(facts, found, run)


def test_apply_time_allowlist() -> None:
    """Whatever a plan says, apply never unmounts outside the four kinds of leftovers."""
    from nodedoctor.clean.engine import _unmount_allowed
    from nodedoctor.clean.plan import Step
    from nodedoctor.model import Evidence

    def step(path: str, kind: str, fstype: str) -> Step:
        return Step("unmount", path, kind, "", Evidence("x", "y"), 1, fstype, "none")

    dirs = ("/var/lib/kubelet",)
    assert _unmount_allowed(step("/run/calico/cgroup", "cgroup", "cgroup2"), dirs)
    assert _unmount_allowed(step("/var/lib/kubelet/pods/x/volumes/v", "kubelet", "tmpfs"), dirs)
    assert _unmount_allowed(step("/run/netns/cni-1", "netns", "nsfs"), dirs)
    assert _unmount_allowed(step("/run/cilium/bpffs", "bpffs", "bpf"), dirs)
    refused = [
        step("/sys/fs/cgroup", "cgroup", "cgroup2"),
        step("/sys/fs/cgroup/unified", "cgroup", "cgroup2"),
        step("/sys/fs/bpf", "bpffs", "bpf"),
        step("/var/lib/kubelet", "kubelet", "xfs"),
        step("/var/lib/kubeletx/y", "kubelet", "tmpfs"),
        step("/run/netns/other", "netns", "nsfs"),
        step("/run/calico", "cgroup", "tmpfs"),
        step("/", "kubelet", "ext4"),
        step("/home", "other", "ext4"),
    ]
    assert not [s.path for s in refused if _unmount_allowed(s, dirs)]
