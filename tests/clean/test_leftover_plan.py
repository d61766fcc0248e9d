"""The leftover steps of the clean plan from recorded roots, the facts they come from, and the
apply-time allowlist that holds whatever a plan says."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.clean.engine import leftover_allowed
from nodedoctor.clean.journal import CleanEntry, Item
from nodedoctor.clean.ops import move_out, removal_input, restore_move
from nodedoctor.clean.plan import plan_clean
from nodedoctor.clean.steps import Step
from nodedoctor.facts import Facts
from nodedoctor.facts.poddirs import kubelet_orphan_log, orphaned_pod_dirs
from nodedoctor.model import Evidence
from nodedoctor.parsers.netfilter import parse_iptables_save
from nodedoctor.sources.commands import ALLOWLIST, CommandResult, RecordedCommands
from nodedoctor.sources.root import Root, directory_root
from tests.helpers import CASES, materialize_case

EV = Evidence("x", "y")
DATA = Path(__file__).with_name("data") / "leftovers"


def _plan_of(case: str, tmp_path: Path) -> dict[str, set[str]]:
    root = materialize_case(CASES / case, tmp_path)
    plan = plan_clean(Facts(directory_root(str(root))), str(tmp_path / "no-cgroups"))
    assert not plan.live
    steps: dict[str, set[str]] = {}
    for s in plan.steps:
        steps.setdefault(s.action, set()).add(s.path)
    return steps


def test_offline_plan_of_cni_configs(tmp_path: Path) -> None:
    steps = _plan_of("cni-config-left/bad-calico-and-flannel-after-reset", tmp_path)
    assert steps["move"] == {
        "/etc/cni/net.d/10-calico.conflist",
        "/etc/cni/net.d/calico-kubeconfig",
        "/etc/cni/net.d/10-flannel.conflist",
    }


def test_offline_plan_of_kubeadm_leftovers(tmp_path: Path) -> None:
    steps = _plan_of("kubeadm-init-blocked/bad-etcd-manifest-data-and-ca-left", tmp_path)
    assert steps["move"] == {
        "/etc/kubernetes/manifests/etcd.yaml",
        "/etc/kubernetes/pki",
        "/var/lib/etcd/member",
    }


def test_nothing_planned_while_the_kubelet_is_configured(tmp_path: Path) -> None:
    for case in (
        "cni-config-left/good-kubelet-configured",
        "kubeadm-init-blocked/good-control-plane-configured",
        "orphaned-pod-dirs/good-kubelet-configured",
    ):
        assert _plan_of(case, tmp_path / case.replace("/", "-")) == {}, case


def test_podman_state_is_not_planned(tmp_path: Path) -> None:
    assert _plan_of("cni-network-left/good-podman-network-only", tmp_path) == {}


def test_state_dir_with_other_users_moves_only_the_cluster_entries(tmp_path: Path) -> None:
    root = materialize_case(
        CASES / "cni-network-left/bad-flannel-state-and-interfaces-after-reset", tmp_path
    )
    podman = root / "var/lib/cni/networks/podman"
    podman.mkdir(parents=True)
    (podman / "lock").write_text("")
    plan = plan_clean(Facts(directory_root(str(root))), str(tmp_path / "none"))
    moves = {s.path for s in plan.steps if s.action == "move"}
    assert "/var/lib/cni/networks/cbr0" in moves
    assert "/var/lib/cni" not in moves
    assert not any("podman" in m for m in moves)
    links = [s.path for s in plan.steps if s.action == "delete-link"]
    assert links[-1] == "cni0", "a bridge goes after the veths enslaved to it"


def _recorded(lines: list[str], base: Path) -> Facts:
    result = CommandResult(
        "journalctl-kubelet", ALLOWLIST["journalctl-kubelet"], 0, "".join(f"{x}\n" for x in lines)
    )
    root = Root(str(base), running=True, commands=RecordedCommands({result.name: result}))
    return Facts(root)


def test_the_kubelet_orphan_lines_of_every_release(tmp_path: Path) -> None:
    # kubernetes#45464 (1.6), #134075 (1.15), DevOpsSchmiede's blog (structured, 1.2x),
    # #105536 (structured, k3s v1.21.5).
    lines = [
        "E0508 00:36:34.697341     469 kubelet_volumes.go:114] Orphaned pod "
        '"0ea83064-3383-11e7-b2b1-005056b7dc12" found, but volume paths are still present on '
        "disk.",
        "E0916 08:27:42.356361    2588 kubelet_volumes.go:154] Orphaned pod "
        '"0008e5b2-6008-45b9-89cd-1aa60f896e24" found, but volume paths are still present on '
        "disk : There were a total of 8549 errors similar to this. Turn up verbosity to see "
        "them.",
        'E0116 08:30:12.044483   66879 kubelet_volumes.go:245] "There were many similar errors. '
        'Turn up verbosity to see them." err="orphaned pod \\"84344a7e-8003-462a-9321-'
        'a3f6c45e530f\\" found, but error occurred when trying to remove the volumes dir: not a '
        'directory" numErrs=4',
        'I0116 08:30:12.000000   66879 kubelet.go:100] "SyncLoop (PLEG): event for pod"',
    ]
    log = kubelet_orphan_log(_recorded(lines, tmp_path))
    assert log.known
    assert sorted(log.named) == [
        "0008e5b2-6008-45b9-89cd-1aa60f896e24",
        "0ea83064-3383-11e7-b2b1-005056b7dc12",
        "84344a7e-8003-462a-9321-a3f6c45e530f",
    ]
    assert log.total == 4


def test_a_kubelet_named_orphan_without_volume_paths_is_not_reported(tmp_path: Path) -> None:
    root = materialize_case(CASES / "orphaned-pod-dirs/bad-kubelet-logs-the-orphan", tmp_path)
    from tests.helpers import check_root

    report = check_root(root, only=("orphaned-pod-dirs",))
    assert [f.rule for f in report.findings] == ["orphaned-pod-dirs"]
    csi = root / "var/lib/kubelet/pods/0008e5b2-6008-45b9-89cd-1aa60f896e24/volumes"
    (csi / "kubernetes.io~csi/pvc-7a1c2b3d").rmdir()
    from nodedoctor.sources.bundle import bundle_directory_root

    facts = Facts(bundle_directory_root(str(root)) or directory_root(str(root)))
    assert facts.get(orphaned_pod_dirs).pods == ()


@pytest.mark.parametrize(
    ("action", "kind", "path", "allowed"),
    [
        ("move", "pod-dir", "/var/lib/kubelet/pods/3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f", True),
        ("move", "pod-dir", "/var/lib/kubelet/pods/not-a-uid", False),
        ("move", "pod-dir", "/var/lib/kubelet", False),
        (
            "move",
            "pod-dir",
            "/var/snap/microk8s/common/var/lib/kubelet/pods/3f1c2b9e-8d3a-4c56-9f01-2a3b4c5d6e7f",
            True,
        ),
        ("move", "cni-config", "/etc/cni/net.d/10-calico.conflist", True),
        ("move", "cni-config", "/etc/cni/net.d/calico-kubeconfig", True),
        ("move", "cni-config", "/etc/cni/net.d", False),
        ("move", "cni-config", "/etc/passwd", False),
        ("move", "cni-state", "/var/lib/cni/networks/cbr0", True),
        ("move", "cni-state", "/var/lib/calico", True),
        ("move", "cni-state", "/var/lib", False),
        ("move", "cni-state", "/var/lib/cni/../../etc", False),
        ("move", "kubeadm", "/etc/kubernetes/pki", True),
        ("move", "kubeadm", "/etc/kubernetes/manifests/etcd.yaml", True),
        ("move", "kubeadm", "/var/lib/etcd/member", True),
        ("move", "kubeadm", "/etc/kubernetes", False),
        ("move", "kubeadm", "/var/lib/etcd", False),
        ("delete-table", "nftables", "nft table ip kube-proxy", True),
        ("delete-table", "nftables", "nft table inet filter", False),
        ("remove-chains", "iptables", "iptables-save table nat", True),
    ],
)
def test_the_apply_time_allowlist(action: str, kind: str, path: str, allowed: bool) -> None:
    table = path.split("table ", 1)[1] if action == "delete-table" else "nat"
    command = "iptables-save" if action == "remove-chains" else ""
    step = Step(action, path, kind, "r", EV, table=table, command=command)
    dirs = ("/var/lib/kubelet", "/var/snap/microk8s/common/var/lib/kubelet")
    assert leftover_allowed(step, dirs) is allowed


def test_removal_input_takes_only_allowlisted_chains_and_their_jumps() -> None:
    text = (DATA / "kube-proxy-flannel.iptables").read_text(encoding="utf-8")
    filt = parse_iptables_save(text).table("filter")
    assert filt is not None
    lines, chains = removal_input(filt)
    assert "DOCKER-USER" not in chains
    assert set(chains) == {
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
        "FLANNEL-FWD",
    }
    assert "-D FORWARD -j DOCKER-USER" not in lines
    assert '-D FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD' in lines
    assert lines[0] == "*filter"
    assert lines[-1] == "COMMIT"


def test_move_and_restore_never_overwrite(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    for sub in ("files", "saved"):
        (journal / sub).mkdir(parents=True)
    entry = CleanEntry("clean-test", str(journal), 0.0, "applying", [])
    src = tmp_path / "state" / "nodename"
    src.parent.mkdir()
    src.write_text("worker-1")
    src.chmod(0o640)
    done = move_out(entry, str(src))
    assert done.status == "done", done
    assert not src.exists()
    (item,) = entry.items
    assert item.state == "done"
    assert item.how == "rename"
    src.write_text("new cluster")  # a new install wrote it again
    again = restore_move(entry, item)
    assert again.status == "skipped"
    assert src.read_text() == "new cluster"
    src.unlink()
    assert restore_move(entry, item).status == "done"
    assert src.read_text() == "worker-1"
    assert (src.stat().st_mode & 0o777) == 0o640
    lost = Item("move", str(tmp_path / "gone"), state="done", stored="files/9")
    assert restore_move(entry, lost).status == "failed", "a journal without the file says so"
    pending = Item("move", str(src), stored="files/9")
    assert restore_move(entry, pending).detail.startswith("was not moved")
