"""The teardown rules on a live kernel: real cgroup2 and tmpfs mounts, a real process named
kubelet, read from this machine's /proc.

Everything happens inside ``unshare --mount --propagation private``: the mounts (a cgroup2
mount outside /sys/fs/cgroup, a tmpfs over /var/lib so that /var/lib/kubelet exists only in
the namespace, pod-volume tmpfs mounts below it) vanish with the namespace, and nothing on the
host is written. The "kubelet" is a copy of ``sleep`` (its ``comm`` is its file name), killed
when the script ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("unshare") is None,
        reason="needs root and unshare(1) for a private mount namespace",
    ),
]

RULES = ["foreign-cgroup-mount", "kubelet-mounts-left", "orphaned-pod-cgroups"]
POD = "5b1c7e2a-3f4d-4c1e-9a8b-2d3e4f5a6b7c"
VOLUME = f"/var/lib/kubelet/pods/{POD}/volumes/kubernetes.io~projected/kube-api-access-x7k2p"


def _run_in_namespace(tmp_path: Path, with_kubelet: bool) -> dict[str, object]:
    kubelet = tmp_path / "kubelet"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", kubelet)
    calico = tmp_path / "run-calico-cgroup"
    calico.mkdir()
    start = f"{kubelet} 300 & KPID=$!; trap 'kill $KPID' EXIT" if with_kubelet else "true"
    script = f"""
set -e
mount -t cgroup2 none {calico}
mount -t tmpfs tmpfs /var/lib
mkdir -p {VOLUME}
mount -t tmpfs tmpfs {VOLUME}
{start}
{sys.executable} -m nodedoctor check --format json --fail-on info --only {" ".join(RULES)} \\
    > {tmp_path}/report.json || true
"""
    subprocess.run(
        # Its own PID namespace: a kubelet stand-in of a test running beside it is not seen.
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            script,
        ],
        check=True,
        timeout=120,
    )
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _findings(report: dict[str, object], rule: str) -> list[dict[str, object]]:
    return [f for f in report["findings"] if f["rule"] == rule]  # type: ignore[attr-defined]


def test_teardown_leftovers_without_kubelet(tmp_path: Path) -> None:
    report = _run_in_namespace(tmp_path, with_kubelet=False)
    (foreign,) = [
        f
        for f in _findings(report, "foreign-cgroup-mount")
        if str(tmp_path) in json.dumps(f["evidence"])
    ]
    assert foreign["severity"] == "warning"
    assert "the kubelet is not running" in str(foreign["message"])
    (mounts,) = _findings(report, "kubelet-mounts-left")
    assert mounts["severity"] == "warning"
    assert VOLUME in json.dumps(mounts["evidence"])


def test_running_kubelet_makes_them_expected(tmp_path: Path) -> None:
    report = _run_in_namespace(tmp_path, with_kubelet=True)
    foreign = [
        f
        for f in _findings(report, "foreign-cgroup-mount")
        if str(tmp_path) in json.dumps(f["evidence"])
    ]
    assert [f["severity"] for f in foreign] == ["info"]
    assert "the kubelet is running" in str(foreign[0]["message"])
    assert _findings(report, "kubelet-mounts-left") == []
    assert "kubelet-mounts-left" in report["passed"]  # type: ignore[operator]
