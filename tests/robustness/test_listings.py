"""A bundle that holds only part of a directory says so, and a rule never reads a pod the
listing left out as a pod the kubelet forgot: the orphaned-pod-cgroups rule is skipped with
why, on a bundle cut by collect's entries per directory and by the reader's member limit,
and a 5,000-pod node (``slow``) gives from its bundle what it gives from its root."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

import nodedoctor.collect as collect_mod
from nodedoctor import engine
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import (
    Limits,
    bundle_directory_root,
    extract_bundle,
    open_bundle,
)
from nodedoctor.sources.root import directory_root
from tests.helpers import TESTS, check_root, materialize_case
from tests.robustness.limited import MAX_PEAK_MIB, MAX_SECONDS, run_limited, tools_missing

CASE = TESTS / "cases" / "orphaned-pod-cgroups" / "good-every-pod-known"
PODS_DIR = "/var/lib/kubelet/pods"
BESTEFFORT = "sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice"
RULE = "orphaned-pod-cgroups"


def _node(tmp_path: Path, pods: int = 60) -> Path:
    """The case's healthy teardown (every pod cgroup has its pod directory, no kubelet
    running) with ``pods`` more BestEffort pods, each with its directory and its cgroup
    (the files of one of the case's pod cgroups)."""
    root = materialize_case(CASE, tmp_path / "case")
    burstable = root / "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice"
    model = next(p for p in sorted(burstable.iterdir()) if p.is_dir())
    for i in range(pods):
        uid = str(uuid.UUID(int=i, version=4))
        (root / PODS_DIR.lstrip("/") / uid).mkdir(parents=True)
        slice_name = f"kubepods-besteffort-pod{uid.replace('-', '_')}.slice"
        shutil.copytree(model, root / BESTEFFORT / slice_name)
    return root


def _verdict(bundle_path: str, limits: Limits | None = None) -> tuple[dict[str, str], str | None]:
    """The bundle's incomplete listings, and the rule's skip reason (``None``: it ran)."""
    with open_bundle(bundle_path, *([limits] if limits else [])) as bundle:
        report = engine.run(Facts(bundle), list(all_rules()))
        incomplete = dict(bundle.manifest["incomplete_listings"])
    assert not [f for f in report.findings if f.rule == RULE], "a false orphan"
    reason = next((s.reason for s in report.skipped if s.rule == RULE), None)
    return incomplete, reason


def test_the_node_and_its_whole_bundle_agree(tmp_path: Path) -> None:
    root = _node(tmp_path)
    report = check_root(root)
    assert RULE in report.passed
    bundle = collect(directory_root(str(root)), str(tmp_path / "b.tar.gz"))
    assert bundle.incomplete_listings == ()
    assert _verdict(bundle.path) == ({}, None)


def test_a_bundle_lists_its_empty_directories_like_the_node(tmp_path: Path) -> None:
    """A bundle's directory members are names, not made on disk: every listing, ``exists``
    and ``is_dir`` of the bundle agrees with the node's, for each directory the node has."""
    root = _node(tmp_path, pods=5)
    node = directory_root(str(root))
    bundle = collect(node, str(tmp_path / "b.tar.gz"))
    with open_bundle(bundle.path) as opened:
        listed = sorted(p for p in opened.manifest["directories"] if not p.startswith("/proc"))
        assert f"{PODS_DIR}/{uuid.UUID(int=0, version=4)}" in listed
        for path in listed:
            assert opened.exists(path), path
            assert opened.is_dir(path), path
            kept = opened.listdir(path) or []
            assert set(kept) <= set(node.listdir(path) or []), path
            assert opened.subdirs(path) == [n for n in kept if opened.is_dir(f"{path}/{n}")]
        assert opened.listdir(PODS_DIR) == node.listdir(PODS_DIR)
        assert opened.subdirs(f"/{BESTEFFORT}") == node.subdirs(f"/{BESTEFFORT}")
        assert not opened.exists(f"{PODS_DIR}/missing")
        assert opened.listdir(f"{PODS_DIR}/missing") is None


def test_a_listing_cut_by_collect_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect_mod, "MAX_DIR_ENTRIES", 20)
    root = _node(tmp_path)
    bundle = collect(directory_root(str(root)), str(tmp_path / "b.tar.gz"))
    incomplete, reason = _verdict(bundle.path)
    assert incomplete[PODS_DIR] == (
        "42 of its 62 entries are not in the bundle: collect keeps 20 entries of a directory"
    )
    assert dict(bundle.incomplete_listings) == incomplete
    assert reason is not None
    assert f"the bundle holds only part of {PODS_DIR} (42 of its 62 entries" in reason


def test_a_listing_cut_by_the_member_limit_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader's member limit leaves out pod cgroups first, then pod directories: either
    way the comparison is not made."""
    root = _node(tmp_path)
    for members, cut in ((120, "/sys/fs/cgroup/kubepods.slice"), (60, PODS_DIR)):
        limits = Limits(members=members)
        monkeypatch.setattr(collect_mod, "DEFAULT_LIMITS", limits)
        bundle = collect(directory_root(str(root)), str(tmp_path / f"{members}.tar.gz"))
        incomplete, reason = _verdict(bundle.path, limits)
        assert any(d.startswith(cut) for d in incomplete), incomplete
        assert all(f"at most {members} members" in why for why in incomplete.values())
        assert reason is not None
        assert "the bundle holds only part of" in reason


def test_a_bundle_with_no_record_of_its_listings_is_read_as_whole(tmp_path: Path) -> None:
    """Bundles written before listings were checked carry no ``incomplete_listings``: read
    as before, every listing whole."""
    root = _node(tmp_path, pods=3)
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    bundle = collect(directory_root(str(root)), str(tmp_path / "b.tar.gz"))
    extract_bundle(bundle.path, str(extracted))
    manifest = extracted / ".nodedoctor/manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data.pop("incomplete_listings")
    manifest.write_text(json.dumps(data), encoding="utf-8")
    recorded = bundle_directory_root(str(extracted))
    assert recorded is not None
    assert recorded.incomplete_listings() == {}
    assert RULE in engine.run(Facts(recorded), list(all_rules())).passed


@pytest.mark.slow
def test_a_5000_pod_bundle_gives_what_its_root_gives(tmp_path: Path) -> None:
    """bench/gen_roots.py's 5,000-pod node with its kubelet stopped: check, collect and
    check --bundle, each within the issue's bounds; the bundle's findings are the root's."""
    reason = tools_missing()
    if reason:
        pytest.skip(reason)
    from bench.gen_roots import generate

    root = generate(tmp_path / "node", 5000, "v2", "systemd")
    shutil.rmtree(root / "proc/905")  # the kubelet's process: stopped, pods left behind
    path = str(tmp_path / "node.tar.gz")
    runs = {
        "check": ["check", "--root", str(root), "--format", "json"],
        "collect": ["collect", "--root", str(root), "-o", path],
        "check --bundle": ["check", "--bundle", path, "--format", "json"],
    }
    reports = {}
    for name, argv in runs.items():
        run = run_limited(argv)
        assert run.cpu < MAX_SECONDS, f"{name}: {run.cpu:.2f} s of CPU"
        assert run.peak_mib < MAX_PEAK_MIB, f"{name}: {run.peak_mib:.0f} MiB"
        assert run.returncode in (0, 1), run.stderr
        if name != "collect":
            reports[name] = json.loads(run.stdout)
    rules = {name: sorted(f["rule"] for f in r["findings"]) for name, r in reports.items()}
    assert rules["check"] == rules["check --bundle"] == ["kubelet-mounts-left"]
