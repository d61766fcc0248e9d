"""The live check on this machine: a real kernel, real mountinfo, real cgroup files.

``nodedoctor check --format json`` must exit 0 or 1 without an internal error, and what it
says about the cgroup mode and the controllers must agree with what ``stat -fc %T
/sys/fs/cgroup`` and ``/proc/cgroups`` (or the root ``cgroup.controllers`` on v2) say,
read here independently of the tool.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.boot import kernel_cmdline
from nodedoctor.facts.cgroups import MOUNTED_V1, NEEDED_V1, NEEDED_V2, controller_analysis
from nodedoctor.sources.root import live_root

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/sys/fs/cgroup").is_dir(),
    reason="needs a Linux host with /sys/fs/cgroup",
)


def _fs_type(path: str) -> str:
    return subprocess.run(
        ["stat", "-fc", "%T", path], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _expected_mode() -> str:
    top = _fs_type("/sys/fs/cgroup")
    if top == "cgroup2fs":
        return "v2"
    assert top == "tmpfs", f"unexpected /sys/fs/cgroup type {top}"
    unified = Path("/sys/fs/cgroup/unified")
    return "hybrid" if unified.is_dir() and _fs_type(str(unified)) == "cgroup2fs" else "v1"


def _v1_mounted() -> set[str]:
    names: set[str] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        _, _, post = line.partition(" - ")
        fields = post.split()
        if len(fields) >= 3 and fields[0] == "cgroup":
            names.update(o for o in fields[2].split(",") if o not in ("rw", "ro"))
    return names


def _expected_available(mode: str) -> dict[str, bool]:
    if mode == "v2":
        have = set(Path("/sys/fs/cgroup/cgroup.controllers").read_text().split())
        return {n: n in have for n in NEEDED_V2}
    enabled = {}
    for line in Path("/proc/cgroups").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _hier, _num, flag = line.split()
        enabled[name] = flag == "1"
    mounted = _v1_mounted()
    # The v1 kubelet needs cpu, cpuacct, cpuset and memory mounted; pids only enabled.
    return {n: enabled.get(n, False) and (n in mounted or n not in MOUNTED_V1) for n in NEEDED_V1}


@pytest.fixture(scope="module")
def live_report() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "nodedoctor", "check", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), (proc.returncode, proc.stderr[-2000:])
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_live_check_runs_without_internal_error(live_report: dict[str, Any]) -> None:
    assert live_report["schema"] == "nodedoctor/report/v1"
    rules = {f["rule"] for f in live_report["findings"]}
    assert "internal-error" not in rules, live_report["findings"]


def test_live_cgroup_mode_matches_stat(live_report: dict[str, Any]) -> None:
    assert live_report["node"]["cgroup"]["mode"] == _expected_mode()


def test_live_controllers_match_the_kernel(live_report: dict[str, Any]) -> None:
    mode = _expected_mode()
    expected = _expected_available(mode)
    an = Facts(live_root()).get(controller_analysis)
    assert an.known
    assert {n: s.available for n, s in an.statuses.items()} == expected
    missing = sorted(n for n, ok in expected.items() if not ok)
    findings = [f for f in live_report["findings"] if f["rule"] == "cgroup-controller-disabled"]
    if missing:
        (finding,) = findings
        for name in missing:
            assert name in finding["title"]
    else:
        assert not findings
        assert "cgroup-controller-disabled" in live_report["passed"]


def test_live_cmdline_is_what_proc_says() -> None:
    cmd = Facts(live_root()).get(kernel_cmdline)
    text = Path("/proc/cmdline").read_text().strip()
    assert cmd is not None
    assert cmd.text == text
    kernel_words = text.split(" -- ")[0].split()
    assert [p.text for p in cmd.params] == kernel_words
