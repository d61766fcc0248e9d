"""The clean plan from recorded state (offline roots and bundles): what is planned, in which
order, what is kept and why, and that nothing is ever applied offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodedoctor.clean.plan import CleanPlan, plan_clean
from nodedoctor.cli import main
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS

KUBEKEY = ROOTS / "kubekey-teardown-calico" / "root"

#: A hybrid host after a Cilium teardown: lxcfs, a Cilium cgroup2 with a stray mount below
#: it, two stacked netns mounts, the kubelet directory on its own disk with a volume below.
HYBRID_MOUNTINFO = (Path(__file__).parent / "data" / "hybrid.mountinfo").read_text(encoding="utf-8")

POD = "pod11111111-2222-3333-4444-555555555555"
LIVE = "pod99999999-8888-7777-6666-555555555555"


def _write(base: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def hybrid_root(base: Path) -> Path:
    files = {"proc/self/mountinfo": HYBRID_MOUNTINFO}
    for hierarchy in ("cpu,cpuacct", "memory", "systemd"):
        h = f"sys/fs/cgroup/{hierarchy}"
        files[f"{h}/cgroup.procs"] = "1\n"
        files[f"{h}/kubepods/cgroup.procs"] = ""
        files[f"{h}/kubepods/burstable/cgroup.procs"] = ""
        files[f"{h}/kubepods/burstable/{POD}/cgroup.procs"] = ""
        files[f"{h}/kubepods/burstable/{POD}/c0ffee/cgroup.procs"] = ""
        files[f"{h}/kubepods/besteffort/cgroup.procs"] = ""
        files[f"{h}/kubepods/besteffort/{LIVE}/cgroup.procs"] = "4242\n4243\n"
        files[f"{h}/system.slice/cgroup.procs"] = "1\n"
    # unified: systemd's view on a hybrid host; one cgroup whose procs cannot be read.
    files["sys/fs/cgroup/unified/kubepods.slice/cgroup.procs"] = ""
    (base / "sys/fs/cgroup/unified/kubepods.slice/kubepods-besteffort.slice").mkdir(parents=True)
    _write(base, files)
    return base


def _plan(root: Path) -> CleanPlan:
    return plan_clean(Facts(directory_root(str(root))))


def test_offline_plan_of_a_kubekey_teardown() -> None:
    plan = _plan(KUBEKEY)
    assert not plan.live
    assert plan.blockers_known is False
    unmounts = [s.path for s in plan.steps if s.action == "unmount"]
    assert unmounts[-1] == "/run/calico/cgroup", "deepest first: kubelet volumes before /run"
    assert sum(1 for p in unmounts if p.startswith("/var/lib/kubelet/pods/")) == 4
    rmdirs = [s.path for s in plan.steps if s.action == "rmdir"]
    assert rmdirs[-1] == "/sys/fs/cgroup/kubepods.slice"
    assert len(rmdirs) == 5
    assert [k.path for k in plan.kept] == ["/sys/fs/bpf"]
    calico = next(s for s in plan.steps if s.path == "/run/calico/cgroup")
    assert "kubekey#2539" in calico.reason
    assert calico.evidence.line == 13
    assert calico.mount_id == 1204


def test_hybrid_plan_keeps_what_is_not_safe(tmp_path: Path) -> None:
    plan = _plan(hybrid_root(tmp_path))
    kept = {k.path: k.reason for k in plan.kept}
    steps = [s.path for s in plan.steps]
    # lxcfs's hierarchy belongs to the host.
    assert "lxcfs" in kept["/run/lxcfs/controllers/memory"]
    # an unplanned mount below a planned one keeps it.
    assert "/run/cilium/cgroupv2/odd" in kept["/run/cilium/cgroupv2"]
    # the kubelet directory's own mount is kept (strictly under, like kubeadm reset).
    assert "/var/lib/kubelet" not in steps
    assert any(p.endswith("kube-api-access-abcde") for p in steps)
    # two netns mounts stacked at the same point: both planned, the later one first.
    netns = [s for s in plan.steps if s.kind == "netns"]
    assert [s.mount_id for s in netns] == [44, 43]
    # every v1 hierarchy and the unified one are walked.
    assert plan.hierarchies == (
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup/cpu,cpuacct",
        "/sys/fs/cgroup/memory",
    )
    for h in ("cpu,cpuacct", "memory", "systemd"):
        base = f"/sys/fs/cgroup/{h}/kubepods"
        assert f"{base}/burstable/{POD}/c0ffee" in steps
        assert f"{base}/burstable" in steps
        assert f"{base}/besteffort/{LIVE}" in kept
        assert "2 process(es)" in kept[f"{base}/besteffort/{LIVE}"]
        assert kept[f"{base}/besteffort"] == "a cgroup below it is kept"
        assert base in kept
        assert f"/sys/fs/cgroup/{h}/system.slice" not in steps
    unknown = "/sys/fs/cgroup/unified/kubepods.slice/kubepods-besteffort.slice"
    assert "unknown" in kept[unknown]
    rmdirs = [s for s in plan.steps if s.action == "rmdir"]
    assert [s.depth for s in rmdirs] == sorted((s.depth for s in rmdirs), reverse=True)
    # unmounts first, then empty cgroups, then what is moved into the journal (a pod's
    # directory only once what was mounted in it is gone).
    actions = [s.action for s in plan.steps]
    order = {"unmount": 0, "rmdir": 1, "move": 2}
    assert [order[a] for a in actions] == sorted(order[a] for a in actions)


def test_cli_plans_offline_and_refuses_to_apply(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "--root", str(KUBEKEY), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "nodedoctor/clean/v1"
    assert data["mode"] == "plan"
    actions = [s["action"] for s in data["plan"]["steps"]]
    assert {a: actions.count(a) for a in set(actions)} == {"unmount": 5, "rmdir": 5, "move": 4}
    assert main(["clean", "--root", str(KUBEKEY), "--apply", "--yes"]) == 2
    assert "planned only" in capsys.readouterr().err
    assert main(["clean", "--root", str(KUBEKEY)]) == 1
    text = capsys.readouterr().out
    assert "offline: plan only" in text
    assert "unmount  /run/calico/cgroup  (cgroup2 from none)" in text
    assert "apply with" not in text


def test_bundle_plans_like_its_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = collect(directory_root(str(KUBEKEY)), str(tmp_path / "b.tar.gz")).path
    assert main(["clean", "--bundle", bundle, "--format", "json"]) == 1
    from_bundle = json.loads(capsys.readouterr().out)["plan"]
    from_root = _plan(KUBEKEY).to_json()
    assert from_bundle["steps"] == from_root["steps"]
    assert from_bundle["kept"] == from_root["kept"]
    assert main(["clean", "--bundle", bundle, "--apply", "--yes"]) == 2


def test_fix_on_a_bundle_plans_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = collect(directory_root(str(KUBEKEY)), str(tmp_path / "b.tar.gz")).path
    assert main(["fix", "--bundle", bundle, "--format", "json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["root"] == f"bundle:{bundle}"
    assert main(["fix", "--bundle", bundle, "--apply", "--yes"]) == 2


def test_a_custom_cgroup_root_is_walked_too(tmp_path: Path) -> None:
    """``cgroupRoot: /k8s.slice`` (systemd driver): kubepods is k8s.slice/k8s-kubepods.slice."""
    import shutil

    root = tmp_path / "node"
    shutil.copytree(ROOTS / "kubeadm-healthy-v2" / "root", root)
    config = root / "var/lib/kubelet/config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8") + "cgroupRoot: /k8s.slice\n", encoding="utf-8"
    )
    custom = root / "sys/fs/cgroup/k8s.slice/k8s-kubepods.slice"
    (custom / "k8s-kubepods-besteffort.slice").mkdir(parents=True)
    (custom / "cgroup.procs").write_text("", encoding="utf-8")
    (custom / "k8s-kubepods-besteffort.slice/cgroup.procs").write_text("", encoding="utf-8")
    plan = _plan(root)
    assert "k8s.slice/k8s-kubepods.slice" in plan.kubepods_tops
    steps = [s.path for s in plan.steps if s.action == "rmdir"]
    assert set(steps) >= {
        "/sys/fs/cgroup/k8s.slice/k8s-kubepods.slice/k8s-kubepods-besteffort.slice",
        "/sys/fs/cgroup/k8s.slice/k8s-kubepods.slice",
    }
    assert steps.index("/sys/fs/cgroup/k8s.slice/k8s-kubepods.slice") > steps.index(
        "/sys/fs/cgroup/k8s.slice/k8s-kubepods.slice/k8s-kubepods-besteffort.slice"
    )
    assert "/sys/fs/cgroup/k8s.slice" not in steps


def test_link_loops_in_a_recorded_tree_end(tmp_path: Path) -> None:
    """A hostile root with links looping inside kubepods: the walk ends, each dir once."""
    import os
    import time

    root = hybrid_root(tmp_path)
    besteffort = root / "sys/fs/cgroup/memory/kubepods/besteffort"
    for name in ("a", "b", "c"):
        os.symlink("..", besteffort / name)
    started = time.monotonic()
    plan = _plan(root)
    assert time.monotonic() - started < 60  # an exponential walk would never end
    paths = [s.path for s in plan.steps if s.kind == "kubepods"]
    paths += [k.path for k in plan.kept if k.kind == "kubepods"]
    assert len(paths) == len(set(paths))
    assert not [p for p in paths if p.endswith(("/a", "/b", "/c"))]
