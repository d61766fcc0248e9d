"""CRI-O and kubelet-side driver fixes on kubeadm roots (the healthy kubeadm 1.33 node with
CRI-O as its runtime, or with a kubelet that takes its driver from the runtime).

No CRI-O binary is available here: the drop-in is checked by CRI-O's own precedence as
``facts/crio.py`` models it (the file sorts last, the values are valid together).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nodedoctor.facts import Facts
from nodedoctor.facts.crio import crio_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.fix import engine
from nodedoctor.fix.planner import build_plan
from nodedoctor.remedies.crio import DROP_IN
from nodedoctor.sources.root import directory_root
from tests.fix.helpers import finding_on

REPO = Path(__file__).parents[2]
HEALTHY = REPO / "tests/roots/kubeadm-healthy-v2/root"
MISMATCH = "cgroup-driver-mismatch"

CRIO_PACKAGE = """Package: cri-o
Status: install ok installed
Priority: optional
Section: admin
Maintainer: Peter Hunt <pehunt@redhat.com>
Architecture: amd64
Version: 1.32.4-1.1
Description: Open Container Initiative-based implementation of Kubernetes Container
 Runtime Interface
"""


def _crio_root(tmp_path: Path, driver: str, dropin: str, from_cri: bool = False) -> Path:
    """With ``from_cri`` False the kubelet turns KubeletCgroupDriverFromCRI off (beta in
    1.33, not locked), so its own cgroupDriver counts and the runtime side is fixed."""
    root = tmp_path / "root"
    shutil.copytree(HEALTHY, root, symlinks=True)
    (root / "etc/containerd/config.toml").unlink()
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text().rstrip("\n") + "\n\n" + CRIO_PACKAGE)
    flags = root / "var/lib/kubelet/kubeadm-flags.env"
    flags.write_text(
        flags.read_text().replace(
            "unix:///var/run/containerd/containerd.sock", "unix:///var/run/crio/crio.sock"
        )
    )
    config = root / "var/lib/kubelet/config.yaml"
    text = config.read_text().replace("cgroupDriver: systemd", f"cgroupDriver: {driver}")
    if not from_cri:
        text += "featureGates:\n  KubeletCgroupDriverFromCRI: false\n"
    config.write_text(text)
    d = root / "etc/crio/crio.conf.d"
    d.mkdir(parents=True)
    (d / "10-crio.conf").write_text(dropin)
    return root


def _apply(root: Path) -> None:
    r = directory_root(str(root))
    plan = build_plan(Facts(r), [finding_on(root, MISMATCH)])
    assert not plan.refusals, plan.refusals
    assert [s.path for s in plan.steps] == [DROP_IN]
    engine.apply(r, plan)
    assert not build_plan(Facts(directory_root(str(root))), [finding_on(root, MISMATCH)]).steps


def test_crio_to_cgroupfs_gets_conmon_pod(tmp_path: Path) -> None:
    root = _crio_root(
        tmp_path,
        "cgroupfs",
        '[crio.runtime]\ndefault_runtime = "crun"\nconmon_cgroup = "system.slice"\n',
    )
    _apply(root)
    crio = crio_facts(Facts(directory_root(str(root))))
    assert crio.cgroup_manager is not None
    assert crio.cgroup_manager.value == "cgroupfs"
    assert crio.cgroup_manager.evidence.source == DROP_IN
    assert crio.conmon_cgroup is not None
    assert crio.conmon_cgroup.value == "pod"
    assert not crio.problems


def test_crio_to_systemd_keeps_a_valid_conmon_cgroup(tmp_path: Path) -> None:
    root = _crio_root(
        tmp_path,
        "systemd",
        '[crio.runtime]\ncgroup_manager = "cgroupfs"\nconmon_cgroup = "pod"\n',
    )
    _apply(root)
    text = (root / DROP_IN.lstrip("/")).read_text()
    assert 'cgroup_manager = "systemd"' in text
    assert "conmon_cgroup" not in text  # "pod" is valid for systemd too
    crio = crio_facts(Facts(directory_root(str(root))))
    assert crio.cgroup_manager is not None
    assert crio.cgroup_manager.value == "systemd"
    assert not crio.problems


def test_crio_drop_in_that_would_lose_is_refused(tmp_path: Path) -> None:
    root = _crio_root(tmp_path, "cgroupfs", '[crio.runtime]\ncgroup_manager = "systemd"\n')
    (root / "etc/crio/crio.conf.d/99-zz-site.conf").write_text(
        '[crio.runtime]\ncgroup_manager = "systemd"\n'
    )
    plan = build_plan(Facts(directory_root(str(root))), [finding_on(root, MISMATCH)])
    assert not plan.steps
    (refusal,) = plan.refusals
    assert "99-zz-site.conf sorts after" in refusal.reason


def test_kubelet_side_when_the_kubelet_takes_the_runtime_driver(tmp_path: Path) -> None:
    """kubelet 1.33 (KubeletCgroupDriverFromCRI on) with CRI-O 1.32 (RuntimeConfig): CRI-O's
    driver wins, so only the ignored kubelet setting is brought in line, on its own line."""
    root = _crio_root(
        tmp_path, "cgroupfs", '[crio.runtime]\ndefault_runtime = "crun"\n', from_cri=True
    )
    config = root / "var/lib/kubelet/config.yaml"
    before = config.read_text()
    r = directory_root(str(root))
    plan = build_plan(Facts(r), [finding_on(root, MISMATCH)])
    assert [s.path for s in plan.steps] == ["/var/lib/kubelet/config.yaml"]
    engine.apply(r, plan)
    after = config.read_text()
    assert after == before.replace("cgroupDriver: cgroupfs", "cgroupDriver: systemd")
    kubelet = kubelet_facts(Facts(directory_root(str(root))))
    assert kubelet.cgroup_driver is not None
    assert kubelet.cgroup_driver.value == "systemd"


def test_microk8s_strict_confinement_gets_no_delegation_drop_in(tmp_path: Path) -> None:
    """MicroK8s's own fix (microk8s#4503) skips strict confinement; so does nodedoctor."""
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/roots/microk8s-1.29-power-cut/root", root, symlinks=True)
    meta = root / "snap/microk8s/current/meta/snap.yaml"
    meta.write_text(meta.read_text().replace("confinement: classic", "confinement: strict"))
    finding = finding_on(root, "cgroup-controller-not-delegated")
    plan = build_plan(Facts(directory_root(str(root))), [finding])
    assert not plan.steps
    (refusal,) = plan.refusals
    assert "classic confinement only" in refusal.reason
