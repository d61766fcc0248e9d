"""Realistic node roots (tests/nodes/<node>/root), checked as a directory, as a bundle
``collect`` wrote from it, and as the DaemonSets see them (tests/incluster.py): issue 11.

Each node's ``expect.yaml`` has the format of tests/roots (see test_scenarios.py). A healthy
node expects no finding and is quiet: nothing at warning or above, in every format and NPD
family. A broken node names the rules its incident must raise, in both modes.

A (node, mode) pair that the current code gets wrong is in ``KNOWN_WRONG`` with what goes
wrong: it is a strict xfail, so the suite stays green and a fix makes it fail loudly until
the entry is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.rules.families import RULE_FAMILIES
from tests.helpers import load_expect
from tests.incluster import REPO, leftover_processes, run_as_daemonset, unshare_available

NODES_DIR = Path(__file__).parent / "nodes"
NODES = sorted(p for p in NODES_DIR.iterdir() if (p / "expect.yaml").exists())
FORMATS = ("json", "text", "junit", "sarif", "npd", "prometheus", "html")
#: The NPD plugin commands of the DaemonSet's config, one per condition (family).
MONITOR = json.loads((REPO / "deploy/nodedoctor-monitor.json").read_text(encoding="utf-8"))
#: deploy/nodedoctor-npd FAMILY [SEVERITY] runs this check when the cycle's shared
#: evaluation is not fresh (and prints the same line from it when it is).
NPD_PLUGINS = [
    [
        "check",
        "--root",
        "{host}",
        "--format",
        "npd",
        "--only",
        rule["args"][0],
        *(["--fail-on", rule["args"][1]] if len(rule["args"]) > 1 else []),
    ]
    for rule in MONITOR["rules"]
]

#: (node, mode) -> what the code gets wrong there, as strict xfails (issue 11's false alarms
#: were listed here until the running-state, deployer and hostname fixes landed).
KNOWN_WRONG: dict[tuple[str, str], str] = {
    ("kops-ubuntu2204", "bundle"): (
        "collect withholds kOps's KubeletConfiguration /var/lib/kubelet/kubelet.conf as a"
        " kubeconfig ('*/kubelet.conf'), so the bundle's kubelet 'says cgroupfs' and"
        " cgroup-driver-mismatch is skipped where the directory passes it"
    ),
}


def _params(mode: str) -> list[Any]:
    out = []
    for node in NODES:
        reason = KNOWN_WRONG.get((node.name, mode))
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 11: {reason}")] if reason else []
        out.append(pytest.param(node, id=node.name, marks=marks))
    return out


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'src'}"}


def _check_expectations(node: Path, report: dict[str, Any]) -> None:
    """The rules of ``expect.yaml`` against a JSON report (as test_scenarios does)."""
    expect = load_expect(node / "expect.yaml")
    got: dict[str, set[str]] = {}
    for f in report["findings"]:
        got.setdefault(f["rule"], set()).add(f["severity"])
    wanted: dict[str, str] = dict(expect.get("findings") or {})  # type: ignore[call-overload]
    for rule_id, severity in wanted.items():
        assert rule_id in got, f"{rule_id} not raised; got {got}"
        assert severity in got[rule_id], f"{rule_id}: wanted {severity}, got {got[rule_id]}"
    for rule_id in expect.get("absent") or []:  # type: ignore[attr-defined]
        assert rule_id not in got, f"{rule_id} raised but must not be: {got}"
    if expect.get("quiet", True):
        extra = [
            f"{f['severity'].upper()} {f['rule']}: {f['message']}"
            for f in report["findings"]
            if f["rule"] not in wanted and f["severity"] in ("error", "warning")
        ]
        assert not extra, extra


def _check_running_state(report: dict[str, Any]) -> None:
    """Every node here records PID 1 (``/proc/1/comm``, or a live procfs): whether it is
    systemd is a fact, never a reason to skip."""
    unknown = [s for s in report["skipped"] if "PID 1" in s["reason"]]
    assert not unknown, unknown


def _worst_exit(report: dict[str, Any]) -> int:
    """``check``'s exit status for a report at the default ``--fail-on error``."""
    return 1 if any(f["severity"] == "error" for f in report["findings"]) else 0


def _family_fails(report: dict[str, Any], argv: Sequence[str]) -> bool:
    """Whether an NPD plugin command (``--only FAMILY`` and its own ``--fail-on``) reports a
    problem for this report's findings."""
    family = argv[argv.index("--only") + 1]
    fail_on = argv[argv.index("--fail-on") + 1] if "--fail-on" in argv else "error"
    wanted = {"error"} if fail_on == "error" else {"error", "warning"}
    return any(
        RULE_FAMILIES.get(f["rule"]) == family and f["severity"] in wanted
        for f in report["findings"]
    )


def _profile_args(node: Path) -> list[str]:
    profile = load_expect(node / "expect.yaml").get("profile")
    return ["--profile", str(profile)] if profile else []


@pytest.mark.parametrize("node", _params("root"))
def test_node_as_directory_root(node: Path) -> None:
    """``check --root DIR``: a mounted image or an extracted bundle of the node."""
    argv = [sys.executable, "-m", "nodedoctor", "check", "--root", str(node / "root")]
    argv += _profile_args(node)
    done = subprocess.run(
        [*argv, "--format", "json"], capture_output=True, text=True, env=_env(), check=False
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    _check_expectations(node, report)
    _check_running_state(report)
    assert done.returncode == _worst_exit(report)
    hostname = (node / "root/etc/hostname").read_text(encoding="utf-8").strip()
    assert report["node"]["hostname"] == hostname


def _outcome(report: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """What a report says of the node, without where it was read or when."""
    return {
        "findings": sorted((f["rule"], f["severity"]) for f in report["findings"]),
        "skipped": sorted((s["rule"], s["reason"]) for s in report["skipped"]),
    }


@pytest.mark.parametrize("node", _params("bundle"))
def test_node_as_a_bundle(node: Path, tmp_path: Path) -> None:
    """``collect --root DIR`` then ``check --bundle``: the bundle judges as the node does."""
    bundle = tmp_path / "b.tar.gz"
    collect = [sys.executable, "-m", "nodedoctor", "collect", "--root", str(node / "root")]
    done = subprocess.run(
        [*collect, "-o", str(bundle)], capture_output=True, text=True, env=_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    profile = _profile_args(node)
    checks = {}
    for source in (["--bundle", str(bundle)], ["--root", str(node / "root")]):
        argv = [sys.executable, "-m", "nodedoctor", "check", *source, *profile, "--format", "json"]
        done = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
        assert done.returncode in (0, 1), done.stderr
        checks[source[0]] = (done.returncode, json.loads(done.stdout))
    returncode, report = checks["--bundle"]
    _check_expectations(node, report)
    _check_running_state(report)
    assert returncode == _worst_exit(report)
    hostname = (node / "root/etc/hostname").read_text(encoding="utf-8").strip()
    assert report["node"]["hostname"] == hostname
    assert _outcome(report) == _outcome(checks["--root"][1])


def test_node_roots_survive_a_clone() -> None:
    """git keeps files, not directories: every directory of a node root holds a file."""
    empty = [d for d, subdirs, files in os.walk(NODES_DIR) if not subdirs and not files]
    assert empty == []


def _mount_points() -> list[tuple[str, str]]:
    """This process's mounts (point and type): a test must leave them as they were."""
    rows = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        left, _, right = line.partition(" - ")
        rows.append((left.split()[4], right.split()[0]))
    return sorted(rows)


@pytest.mark.root
@pytest.mark.skipif(
    not unshare_available(), reason="needs root and unshare(1) for mount+PID+UTS namespaces"
)
@pytest.mark.parametrize("node", _params("daemonset"))
def test_node_as_the_daemonset_sees_it(node: Path, tmp_path: Path) -> None:
    """``check --root /host`` from a pod: every format, and each NPD plugin command."""
    profile = _profile_args(node)
    invocations = [["check", "--root", "{host}", *profile, "--format", f] for f in FORMATS]
    # One shared evaluation for the cycle, in the pod's emptyDir (here the test's own).
    cache = ["--npd-cache", str(tmp_path / "npd")]
    invocations += [[*args, *profile, *cache] for args in NPD_PLUGINS]
    before = _mount_points()
    runs = run_as_daemonset(node / "root", tmp_path, invocations)
    assert _mount_points() == before
    assert leftover_processes(tmp_path) == []

    by_format = {run.argv[-1]: run for run in runs[: len(FORMATS)]}
    assert by_format["json"].returncode in (0, 1), by_format["json"].stderr
    report = json.loads(by_format["json"].stdout)
    _check_expectations(node, report)
    _check_running_state(report)
    hostname = (node / "root/etc/hostname").read_text(encoding="utf-8").strip()
    assert report["node"]["hostname"] == hostname
    worst = _worst_exit(report)
    for fmt, run in by_format.items():
        assert run.stdout, f"{fmt}: no output; {run.stderr}"
        if fmt != "npd":
            assert run.returncode == worst, f"{fmt} exits {run.returncode}: {run.stderr}"
    family_exits = {" ".join(run.argv): run.returncode for run in runs[len(FORMATS) :]}
    assert set(family_exits.values()) <= {0, 1, 2}, family_exits
    # Each condition is raised exactly when the report has a finding of its family at or
    # above the plugin's own --fail-on (warning for the teardown and bootstrap conditions).
    for run in runs[len(FORMATS) :]:
        assert (run.returncode == 1) == _family_fails(report, run.argv), (run.argv, run.stdout)
    assert (by_format["npd"].returncode == 1) == (worst == 1)
    # A broken node's incident is a condition NPD sets: the plugin of each expected rule's
    # family reports a problem (its one line names the family's first finding, which on a
    # replayed cgroup v1 node can be a hierarchy this machine cannot mount in the namespace).
    wanted = dict(load_expect(node / "expect.yaml").get("findings") or {})  # type: ignore[call-overload]
    raised = {
        run.argv[run.argv.index("--only") + 1]
        for run in runs[len(FORMATS) :]
        if run.returncode == 1
    }
    for rule_id in wanted:
        assert RULE_FAMILIES[rule_id] in raised, (rule_id, family_exits)
