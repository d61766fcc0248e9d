"""``nodedoctor clean`` against real mounts and real cgroups, each test in its own private
mount and PID namespace (see ns_helper.py for the state it builds).

The host is never touched: every mount is made inside the namespace (propagation private),
the only host-visible change is a uniquely named cgroup subtree of the unified hierarchy,
which the helper removes and this test removes again if the helper could not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HELPER = Path(__file__).with_name("ns_helper.py")
SRC = Path(__file__).resolve().parents[2] / "src"

pytestmark = [pytest.mark.root]


def _unified() -> str | None:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: mount namespaces, mounts and cgroups"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    if _unified() is None:
        return "needs a cgroup2 hierarchy on the host"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"unshare --mount is not permitted here: {probe.stderr.decode().strip()}"
    return None


@pytest.fixture
def run_scenario(tmp_path: Path) -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"nodedoctor-test-{uuid.uuid4().hex[:12]}"
    unified = _unified()
    assert unified is not None

    def run(scenario: str) -> dict[str, Any]:
        env = dict(os.environ, PYTHONPATH=f"{SRC}:{HELPER.parent}")
        env.pop("NODEDOCTOR_CGROUP_ROOT", None)
        proc = subprocess.run(
            [
                "unshare",
                "--mount",
                "--net",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--mount-proc",
                sys.executable,
                str(HELPER),
                scenario,
                str(tmp_path),
                name,
            ],
            capture_output=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        report: dict[str, Any] = json.loads(proc.stdout)
        return report

    yield run
    leftover = os.path.join(unified, name)
    if os.path.isdir(leftover):
        for top, _, _ in sorted(os.walk(leftover), key=lambda t: -t[0].count("/")):
            os.rmdir(top)
    assert not os.path.exists(leftover), "the test cgroup subtree was left on the host"


EXPECTED_UNMOUNTS = {
    "/run/calico/cgroup": "cgroup",
    "/run/cilium/cgroupv2": "cgroup",
    "/run/cilium/bpffs": "bpffs",
    "/run/netns/cni-5b8a9e0c-2d4f-4e6a-9b1c-3d5e7f9a1b2c": "netns",
    "/var/lib/kubelet/pods/3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f/volumes/"
    "kubernetes.io~projected/kube-api-access-7xk2p": "kubelet",
    "/var/lib/kubelet/pods/9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d/volumes/"
    "kubernetes.io~secret/default-token": "kubelet",
    "/var/lib/kubelet/pods/9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d/volume-subpaths/data/app/0": (
        "kubelet"
    ),
}


#: The orphaned pods' directories (their volumes are unmounted first), moved into the journal.
EXPECTED_MOVES = {
    "/var/lib/kubelet/pods/3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f",
    "/var/lib/kubelet/pods/9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d",
}


EXPECTED_UNMOUNTS_BUSY = (
    "/var/lib/kubelet/pods/9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d/volumes/"
    "kubernetes.io~secret/default-token"
)


def _expected_rmdirs(root: str) -> set[str]:
    a, b = "3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f", "9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d"
    slice_a = "kubepods-burstable-pod" + a.replace("-", "_") + ".slice"
    rel = [
        f"kubepods/burstable/pod{a}/c0ffee",
        f"kubepods/burstable/pod{a}",
        "kubepods/burstable",
        f"kubepods/besteffort/pod{b}",
        "kubepods/besteffort",
        f"kubepods.slice/kubepods-burstable.slice/{slice_a}/cri-containerd-0123.scope",
        f"kubepods.slice/kubepods-burstable.slice/{slice_a}",
        "kubepods.slice/kubepods-burstable.slice",
        "kubepods.slice/kubepods-besteffort.slice",
        "kubepods.slice",
    ]
    return {f"{root}/{r}" for r in rel}


def _host_cgroups_kept(report: dict[str, Any]) -> None:
    """Every host cgroup (all hierarchies, our subtree aside) counted before is still there.
    Cgroups other test suites create meanwhile may appear; none may go."""
    before, after = set(report["cgroups_before"]), set(report["cgroups_after"])
    assert len(before) > 1
    assert not before - after, f"host cgroups removed: {sorted(before - after)}"
    assert len(after) >= len(before)


def _points(mounts: list[list[str]]) -> list[str]:
    return [m[0] for m in mounts]


def test_apply_removes_exactly_the_leftovers(run_scenario: Any) -> None:
    r = run_scenario("apply")
    root = r["cgroup_root"]
    live_pod = f"{root}/kubepods/pod0c0ffee0-1111-4222-8333-444455556666"

    plan = r["plan"]["plan"]
    assert r["plan_code"] == 1
    unmounts = {s["path"]: s["kind"] for s in plan["steps"] if s["action"] == "unmount"}
    assert unmounts == EXPECTED_UNMOUNTS
    rmdirs = [s["path"] for s in plan["steps"] if s["action"] == "rmdir"]
    assert set(rmdirs) == _expected_rmdirs(root)
    depths = [p.count("/") for p in rmdirs]
    assert depths == sorted(depths, reverse=True), "cgroups must be removed deepest first"
    kept = {k["path"]: k["reason"] for k in plan["kept"]}
    assert "/sys/fs/bpf" in kept
    assert r["cgroup_mount"] in kept  # carries the cgroup root under test
    assert f"{live_pod}/abc123" in kept
    assert "process" in kept[f"{live_pod}/abc123"]
    assert live_pod in kept
    assert f"{root}/kubepods" in kept
    assert plan["blockers"] == []
    assert plan["blockers_known"] is True

    assert r["apply_code"] == 0, r["apply_err"]
    outcomes = {o["path"]: o["status"] for o in r["apply"]["outcomes"]}
    assert set(outcomes) == set(EXPECTED_UNMOUNTS) | _expected_rmdirs(root) | EXPECTED_MOVES
    moves = {s["path"] for s in plan["steps"] if s["action"] == "move"}
    assert moves == EXPECTED_MOVES
    assert r["apply"]["journal"].startswith("clean-")
    busy = EXPECTED_UNMOUNTS_BUSY
    assert outcomes.pop(busy) == "detached", "a busy mount is detached, and says so"
    assert set(outcomes.values()) == {"done"}
    assert r["apply"]["complete"] is True
    assert r["apply"]["left"]["steps"] == []

    before, after = _points(r["mounts_before"]), _points(r["mounts_after"])
    assert sorted(set(before) - set(after)) == sorted(EXPECTED_UNMOUNTS)
    assert set(after) <= set(before), "clean mounted something"
    for kept_mount in ("/sys/fs/bpf", "/var/lib/kubelet", "/run/calico", "/run", "/var/lib"):
        assert kept_mount in after

    tree_before, tree_after = set(r["tree_before"]), set(r["tree_after"])
    assert tree_before - tree_after == _expected_rmdirs(root)
    assert {live_pod, f"{live_pod}/abc123", f"{root}/kubepods"} <= tree_after
    assert f"{root}/system.slice/not-kubernetes.service" in tree_after

    _host_cgroups_kept(r)
    assert r["removed_test_tree"] is True

    # Idempotent: the second apply finds nothing to do.
    assert r["again_code"] == 0
    assert r["again"]["plan"]["steps"] == []


def test_refused_while_the_kubelet_runs_unless_forced(run_scenario: Any) -> None:
    r = run_scenario("refuse")
    plan = r["plan"]["plan"]
    assert [b["comm"] for b in plan["blockers"]] == ["kubelet"]
    assert r["refused_code"] == 2
    assert "still running: kubelet (pid" in r["refused_err"]
    assert r["mounts_after_refusal"] == r["mounts_before"]
    assert r["tree_after_refusal"] == r["tree_before"]

    assert r["forced_code"] == 0
    before, after = _points(r["mounts_before"]), _points(r["mounts_after"])
    assert sorted(set(before) - set(after)) == sorted(EXPECTED_UNMOUNTS)
    _host_cgroups_kept(r)
    assert r["removed_test_tree"] is True


def test_stop_needs_systemd(run_scenario: Any) -> None:
    """Here PID 1 (of the namespace) is not systemd: --stop refuses and changes nothing."""
    r = run_scenario("stop")
    assert r["stop_code"] == 2
    assert "PID 1 is not systemd" in r["stop_err"]
    assert r["mounts_after"] == r["mounts_before"]
    assert r["tree_after"] == r["tree_before"]


def test_each_step_is_revalidated_against_the_node(run_scenario: Any) -> None:
    """The node changes between plan and apply: every stale step is skipped, with why."""
    r = run_scenario("stale")
    root = r["cgroup_root"]
    out = {o["path"]: (o["status"], o["detail"]) for o in r["stale_outcomes"]}
    assert out["/run/cilium/bpffs"][0] == "gone"
    assert out["/run/calico/cgroup"][0] == "skipped"
    assert "changed since the plan" in out["/run/calico/cgroup"][1]
    projected = (
        "/var/lib/kubelet/pods/3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f/volumes/"
        "kubernetes.io~projected/kube-api-access-7xk2p"
    )
    assert out[projected][0] == "skipped"
    assert "is mounted below it" in out[projected][1]
    pod_b = f"{root}/kubepods/besteffort/pod9a8b7c6d-1e2f-4a5b-8c7d-0e1f2a3b4c5d"
    assert out[pod_b][0] == "skipped"
    assert "has processes now" in out[pod_b][1]
    assert out[f"{root}/kubepods/besteffort"][0] == "skipped"
    assert out["/run/cilium/cgroupv2"][0] == "done"
    after = _points(r["mounts_after"])
    assert "/run/calico/cgroup" in after, "the mount put on top was not touched"
    assert f"{projected}/nested" in after
    assert pod_b in r["tree_after"]
    left = {s["path"] for s in r["stale_left"]["steps"]}
    assert "/run/calico/cgroup" in left or any(
        k["path"] == "/run/calico/cgroup" for k in r["stale_left"]["kept"]
    )
    _host_cgroups_kept(r)
    assert r["removed_test_tree"] is True


def test_microk8s_kubelet_mounts_are_planned_and_removed(run_scenario: Any) -> None:
    """MicroK8s's kubelet directory is /var/snap/microk8s/common/var/lib/kubelet: the plan
    and the engine agree on it, so the apply does what was planned and the run completes
    (it used to skip the step as outside what clean may unmount, exit 1 on every run)."""
    r = run_scenario("microk8s")
    volume = (
        "/var/snap/microk8s/common/var/lib/kubelet/pods/3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f/"
        "volumes/kubernetes.io~projected/kube-api-access-m8s2x"
    )
    planned = {s["path"]: s["kind"] for s in r["plan"]["plan"]["steps"]}
    assert planned[volume] == "kubelet"
    assert r["apply_code"] == 0, r["apply_err"]
    outcomes = {o["path"]: o["status"] for o in r["apply"]["outcomes"]}
    assert outcomes[volume] == "done"
    assert r["apply"]["complete"] is True
    assert volume in _points(r["mounts_before"])
    assert volume not in _points(r["mounts_after"])
    _host_cgroups_kept(r)
