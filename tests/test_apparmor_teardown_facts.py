"""Facts behind apparmor-blocks-runc-signal and the teardown rules that the case roots cannot
show: the live kernel journal (as a bundle records it), bounded log tails, recorded kubelet
states, and the kubelet directory behind a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.facts import apparmor as apparmor_mod
from nodedoctor.facts.apparmor import apparmor_facts
from nodedoctor.facts.teardown import teardown_facts
from nodedoctor.model import Report, Severity
from nodedoctor.rules import rule_by_id
from nodedoctor.sources.commands import ALLOWLIST, CommandResult, RecordedCommands
from nodedoctor.sources.root import Root
from tests.helpers import ROOTS, case_root

DENIAL = (
    'audit: type=1400 audit(1717409521.100:201): apparmor="DENIED" operation="signal" '
    'class="signal" profile="cri-containerd.apparmor.d" pid=4121 comm="runc" '
    'requested_mask="receive" denied_mask="receive" signal=kill peer="runc"'
)


def _recorded(**outputs: str) -> RecordedCommands:
    return RecordedCommands(
        {
            name.replace("_", "-"): CommandResult(
                name.replace("_", "-"), ALLOWLIST[name.replace("_", "-")], 0, out
            )
            for name, out in outputs.items()
        }
    )


def _run(root: Root, rule_id: str) -> Report:
    rule = rule_by_id(rule_id)
    assert rule is not None
    return engine.run(Facts(root), [rule])


def test_journal_denial_from_a_bundle(tmp_path: Path) -> None:
    journal = f"Jun 03 10:12:01 noble-worker-1 kernel: {DENIAL}\n"
    root = Root(str(tmp_path), commands=_recorded(journalctl_kernel=journal), running=True)
    report = _run(root, "apparmor-blocks-runc-signal")
    (finding,) = report.findings
    assert finding.severity is Severity.ERROR
    (ev,) = finding.evidence
    assert ev.source == "journalctl -k -b --no-pager -q -n 2000"
    assert ev.line is None
    assert 'peer="runc"' in ev.text


def test_large_log_is_read_from_its_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apparmor_mod, "LOG_TAIL_BYTES", 4096)
    log = tmp_path / "var/log/kern.log"
    log.parent.mkdir(parents=True)
    filler = "".join(
        f"Jun  3 09:00:{i % 60:02d} node kernel: noise line {i}\n" for i in range(2000)
    )
    log.write_text(filler + f"Jun  3 10:12:01 node kernel: {DENIAL}\n", encoding="utf-8")
    facts = Facts(Root(str(tmp_path)))
    aa = facts.get(apparmor_facts)
    (denial,) = aa.denials
    assert denial.evidence.line is None  # counted from a tail: no file line number to give
    assert denial.denial.peer == "runc"


def test_denial_from_other_peers_is_not_this_rule(tmp_path: Path) -> None:
    log = tmp_path / "var/log/kern.log"
    log.parent.mkdir(parents=True)
    # nerdctl's rootlesskit peer (containerd#10111) and a Go runtime SIGURG: other problems.
    log.write_text(
        DENIAL.replace('peer="runc"', 'peer="/usr/local/bin/rootlesskit"')
        + "\n"
        + DENIAL.replace("signal=kill", "signal=urg").replace(
            'peer="runc"', 'peer="cri-containerd.apparmor.d//&unconfined"'
        )
        + "\n",
        encoding="utf-8",
    )
    assert _run(Root(str(tmp_path)), "apparmor-blocks-runc-signal").findings == ()


@pytest.mark.parametrize(
    ("state", "configured", "severity"),
    [
        ("ActiveState=active", True, Severity.INFO),
        ("ActiveState=activating", True, Severity.INFO),  # crash-looping: restarting
        ("ActiveState=inactive", True, Severity.INFO),  # stopped, not torn down
        ("ActiveState=inactive", False, Severity.WARNING),  # torn down
    ],
)
def test_recorded_systemctl_state_decides_foreign_mount_severity(
    tmp_path: Path, state: str, configured: bool, severity: Severity
) -> None:
    source = case_root("foreign-cgroup-mount/bad-calico-cluster-present")
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text(
        (source / "proc/self/mountinfo").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "var/lib/kubelet").mkdir(parents=True)
    if configured:
        (tmp_path / "var/lib/kubelet/config.yaml").write_text("kind: KubeletConfiguration\n")
    output = f"{state}\nNRestarts=0\nDelegate=no\nMainPID=0\n"
    root = Root(str(tmp_path), commands=_recorded(systemctl_kubelet=output), running=False)
    report = _run(root, "foreign-cgroup-mount")
    (finding,) = report.findings
    assert finding.severity is severity
    assert any(e.text == state for e in finding.evidence)


def test_stopped_but_configured_kubelet_keeps_its_mounts_reported(tmp_path: Path) -> None:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text(
        "29 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
        "1300 29 0:100 / /var/lib/kubelet/pods/5b1c7e2a-3f4d-4c1e-9a8b-2d3e4f5a6b7c/volumes/"
        "kubernetes.io~projected/kube-api-access-x7k2p rw,relatime - tmpfs tmpfs rw\n",
        encoding="utf-8",
    )
    (tmp_path / "var/lib/kubelet").mkdir(parents=True)
    (tmp_path / "var/lib/kubelet/config.yaml").write_text("kind: KubeletConfiguration\n")
    output = "ActiveState=failed\nNRestarts=5\nDelegate=no\nMainPID=0\n"
    root = Root(str(tmp_path), commands=_recorded(systemctl_kubelet=output), running=False)
    (finding,) = _run(root, "kubelet-mounts-left").findings
    assert "configured but not running" in finding.message
    assert finding.fix is not None
    assert finding.fix.summary.startswith("if the node stays in the cluster, start the kubelet")


def test_kubelet_dir_behind_a_link_is_followed(tmp_path: Path) -> None:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "data/kubelet/pods").mkdir(parents=True)
    (tmp_path / "var/lib").mkdir(parents=True)
    os.symlink("/data/kubelet", tmp_path / "var/lib/kubelet")
    (tmp_path / "proc/self/mountinfo").write_text(
        "29 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
        "1300 29 0:100 / /data/kubelet/pods/5b1c7e2a-3f4d-4c1e-9a8b-2d3e4f5a6b7c/volumes/"
        "kubernetes.io~projected/kube-api-access-x7k2p rw,relatime - tmpfs tmpfs rw\n"
        "1301 29 252:17 / /data/kubelet rw,relatime - xfs /dev/vdb1 rw\n",
        encoding="utf-8",
    )
    td = Facts(Root(str(tmp_path))).get(teardown_facts)
    assert td.kubelet_dir == "/data/kubelet"
    assert [m.mount_point for m in td.kubelet_mounts] == [
        "/data/kubelet/pods/5b1c7e2a-3f4d-4c1e-9a8b-2d3e4f5a6b7c/volumes/"
        "kubernetes.io~projected/kube-api-access-x7k2p"
    ]  # the mount *of* the directory itself is kept, as kubeadm reset does
    assert td.kubelet.gone is True


def test_unmount_order_is_deepest_first() -> None:
    root = ROOTS / "kubekey-teardown-calico" / "root"
    td = Facts(Root(str(root))).get(teardown_facts)
    order = [m.mount_point for m in td.unmount_order()]
    assert order[-1] == "/run/calico/cgroup"
    depths = [p.count("/") for p in order]
    assert depths == sorted(depths, reverse=True)
    assert all(m.removable for m in td.unmount_order())
    assert [b.removable for b in td.bpffs] == [False]  # /sys/fs/bpf is the system's own


def test_microk8s_root_dir_holds_its_pods(tmp_path: Path) -> None:
    """MicroK8s runs its kubelet with --root-dir=${SNAP_COMMON}/var/lib/kubelet: its pods are
    there, not in /var/lib/kubelet, so their cgroups are not orphans."""
    from nodedoctor.facts.podcgroups import pod_cgroup_facts

    uid = "5b1c7e2a-3f4d-4c1e-9a8b-2d3e4f5a6b7c"
    args = tmp_path / "var/snap/microk8s/current/args/kubelet"
    args.parent.mkdir(parents=True)
    args.write_text(
        "--resolv-conf=/run/systemd/resolve/resolv.conf\n"
        "--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n"
        "--cert-dir=${SNAP_DATA}/certs\n"
        "--client-ca-file=${SNAP_DATA}/certs/ca.crt\n"
        "--anonymous-auth=false\n"
        "--root-dir=${SNAP_COMMON}/var/lib/kubelet\n"
        "--fail-swap-on=false\n"
        "--container-runtime-endpoint=${SNAP_COMMON}/run/containerd.sock\n",
        encoding="utf-8",
    )
    (tmp_path / f"var/snap/microk8s/common/var/lib/kubelet/pods/{uid}").mkdir(parents=True)
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text(
        "29 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
        "31 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
        "cgroup2 rw,nsdelegate,memory_recursiveprot\n",
        encoding="utf-8",
    )
    cg = tmp_path / "sys/fs/cgroup"
    (cg / f"kubepods/burstable/pod{uid}").mkdir(parents=True)
    (cg / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    facts = Facts(Root(str(tmp_path)))
    assert facts.get(teardown_facts).kubelet_dir == "/var/snap/microk8s/common/var/lib/kubelet"
    pc = facts.get(pod_cgroup_facts)
    assert [entry[0] for entry in pc.entries] == [uid]
    assert pc.orphans() == []
