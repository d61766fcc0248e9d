"""A check of a kubeadm worker (bench/gen_roots.py: cgroup v1 and v2, both drivers) reads each
file once: facts reuse what another fact already read (the root ``cgroup.controllers`` that
the cgroup facts read is the kubepods parent's, and the cgroupRoot's)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bench.gen_roots import generate

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.facts.kubepods import kubepods_facts, pod_cgroup_entries
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import Root, directory_root


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()
    original = Root.read_bytes

    def counting(self: Root, path: str, *args: Any, **kwargs: Any) -> Any:
        counts[path] += 1
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(Root, "read_bytes", counting)
    return counts


@pytest.mark.parametrize("mode", ["v1", "v2"])
@pytest.mark.parametrize("driver", ["cgroupfs", "systemd"])
def test_a_check_reads_each_file_once(
    tmp_path: Path, reads: Counter[str], mode: str, driver: str
) -> None:
    root = generate(tmp_path / "node", 6, mode, driver)
    report = engine.run(Facts(directory_root(str(root))), engine.select_rules(all_rules()))
    assert not [f for f in report.findings if f.rule == "internal-error"], report.findings
    assert {path: n for path, n in reads.items() if n > 1} == {}
    if mode == "v2":
        assert reads["/sys/fs/cgroup/cgroup.controllers"] == 1


def test_kubepods_parent_controllers_are_the_roots(tmp_path: Path) -> None:
    root = generate(tmp_path / "node", 2, "v2", "systemd")
    facts = Facts(directory_root(str(root)))
    kubepods = facts.get(kubepods_facts).kubepods
    assert kubepods is not None
    assert kubepods.v2 is not None
    assert kubepods.v2.parent_path == "/sys/fs/cgroup"
    assert kubepods.v2.parent_controllers == facts.get(kubepods_facts).root_controllers
    assert kubepods.v2.parent_controllers is not None
    assert kubepods.v2.parent_controllers.evidence.source == "/sys/fs/cgroup/cgroup.controllers"
    assert "memory" in kubepods.v2.parent_controllers.value


def test_an_empty_root_controllers_file_is_still_worded_empty(tmp_path: Path) -> None:
    root = generate(tmp_path / "node", 0, "v2", "cgroupfs")
    (root / "sys/fs/cgroup/cgroup.controllers").write_text("", encoding="utf-8")
    kubepods = Facts(directory_root(str(root))).get(kubepods_facts).kubepods
    assert kubepods is not None
    assert kubepods.v2 is not None
    assert kubepods.v2.parent_controllers is not None
    assert kubepods.v2.parent_controllers.value == ()
    assert kubepods.v2.parent_controllers.evidence.text == "(empty)"


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_the_absent_drivers_qos_cgroups_are_not_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Pod cgroups are looked for under both drivers' names; where a driver's kubepods is
    absent, its QoS cgroups inside it are not asked for."""
    root = generate(tmp_path / "node", 3, mode, "systemd")
    asked: list[str] = []
    original = Root.subdirs

    def counting(self: Root, path: str) -> list[str] | None:
        asked.append(path)
        return original(self, path)

    monkeypatch.setattr(Root, "subdirs", counting)
    found = pod_cgroup_entries(Facts(directory_root(str(root))))
    assert len({uid for uid, *_ in found}) == 3
    assert not [p for p in asked if p.endswith(("/kubepods/burstable", "/kubepods/besteffort"))]
    assert [p for p in asked if p.endswith("/kubepods")]  # the cgroupfs name was looked up
    assert [p for p in asked if p.endswith("/kubepods.slice/kubepods-burstable.slice")]


def test_a_running_kubelet_spares_the_pod_cgroup_listing(tmp_path: Path) -> None:
    """orphaned-pod-cgroups passes while the kubelet runs (it removes orphans itself), so the
    pod cgroups (one per pod and hierarchy) are not listed at all."""
    from nodedoctor.facts.podcgroups import pod_cgroup_facts
    from nodedoctor.facts.teardown import kubelet_state
    from nodedoctor.rules import rule_by_id

    root = generate(tmp_path / "node", 4, "v1", "systemd")  # /proc has its kubelet
    rule = rule_by_id("orphaned-pod-cgroups")
    assert rule is not None
    running = Facts(Root(str(root), running=True))
    report = engine.run(running, [rule])
    assert running.get(kubelet_state).running is True
    assert report.passed == ("orphaned-pod-cgroups",)
    assert pod_cgroup_facts not in running._cache
    for comm in (root / "proc").glob("[0-9]*/comm"):
        comm.unlink()  # a root that records no process cannot tell whether the kubelet runs
    offline = Facts(Root(str(root)))  # so the cgroups are listed
    assert engine.run(offline, [rule]).passed == ("orphaned-pod-cgroups",)
    assert offline.get(kubelet_state).running is None
    assert pod_cgroup_facts in offline._cache
