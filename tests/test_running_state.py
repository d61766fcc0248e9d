"""What a root shows of its running state (facts/processes.py), and the deployer models
(facts/deployers.py) on the realistic node roots of tests/nodes (issue 11)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodedoctor.cli.common import PROFILES as CLI_PROFILES
from nodedoctor.facts import Facts
from nodedoctor.facts.deployers import BY_NAME, DEPLOYERS, KUBEADM, PROFILES
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.processes import HOST_PROCFS, RECORDED, processes
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.system import init_system
from nodedoctor.facts.teardown import KubeletState, configured_files, kubelet_state
from nodedoctor.model import Evidence
from nodedoctor.sources.root import directory_root
from tests.helpers import case_root, check_root

NODES = Path(__file__).parent / "nodes"
ROOTS = Path(__file__).parent / "roots"


def _facts(root: Path, profile: str | None = None) -> Facts:
    return Facts(directory_root(str(root)), profile=profile)


# -- running state ---------------------------------------------------------------------------


def test_recorded_comm_files_make_pid1_and_the_daemons_facts() -> None:
    facts = _facts(NODES / "kops-ubuntu2204/root")
    procs = facts.get(processes)
    assert (procs.source, procs.known) == (RECORDED, True)
    assert procs.pid1 is not None
    assert procs.pid1.comm == "systemd"
    assert [(p.pid, p.comm) for p in procs.running or ()] == [
        (1043, "kubelet"),
        (612, "containerd"),
    ]
    kubelet = procs.kubelet()
    assert kubelet is not None
    assert kubelet.argv[0] == "/usr/local/bin/kubelet"
    init = facts.get(init_system)
    assert init.systemd is True
    assert init.evidence == Evidence("/proc/1/comm", "systemd")


def test_a_root_that_records_no_process_cannot_tell_what_runs() -> None:
    facts = _facts(ROOTS / "kubeadm-healthy-v2/root")
    procs = facts.get(processes)
    assert (procs.known, procs.running, procs.source, procs.pid1) == (False, None, None, None)
    assert "/proc/<pid>/comm" in procs.unknown_reason
    assert facts.get(kubelet_state).running is None


def test_a_recorded_run_systemd_tells_pid1(tmp_path: Path) -> None:
    """sd_booted(3): a recorded /run/systemd/system says systemd booted the node."""
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    init = _facts(tmp_path).get(init_system)
    assert (init.systemd, init.evidence) == (True, Evidence("/run/systemd/system", "exists"))
    assert _facts(tmp_path / "run/systemd").get(init_system).systemd is None


def test_an_offline_root_with_its_kubelet_configured_skips_kubelet_mounts_left() -> None:
    """Mounts under /var/lib/kubelet, the kubelet's config present, nothing recorded of what
    runs: whether the kubelet is gone cannot be told, so the rule skips with that reason."""
    root = case_root("kubelet-mounts-left/good-kubelet-configured")
    state = _facts(root).get(kubelet_state)
    assert (state.running, state.gone, state.removed) == (None, None, False)
    report = check_root(root, only=("kubelet-mounts-left",))
    assert [s.rule for s in report.skipped] == ["kubelet-mounts-left"]
    assert report.skipped[0].reason == (
        "3 mount(s) under /var/lib/kubelet/ and the kubelet's configuration is still there, but "
        "whether the kubelet runs cannot be told: this root does not show what runs: its /proc "
        "is not a live procfs and holds no recorded /proc/<pid>/comm"
    )


@pytest.mark.parametrize(
    ("running", "config_left", "gone"),
    [
        (True, (), False),
        (True, (Evidence("/var/lib/kubelet/config.yaml", "present"),), False),
        (False, (Evidence("/var/lib/kubelet/config.yaml", "present"),), True),
        (False, (), True),
        (None, (), True),  # nothing of it left: torn down
        (None, (Evidence("/var/lib/kubelet/config.yaml", "present"),), None),
    ],
)
def test_kubelet_state_gone(
    running: bool | None, config_left: tuple[Evidence, ...], gone: bool | None
) -> None:
    assert KubeletState(running, (), config_left).gone is gone


@pytest.mark.root
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for a private mount namespace",
)
def test_a_host_procfs_under_the_root_shows_pid1_and_what_runs(tmp_path: Path) -> None:
    """``--root /host`` with the host's live /proc: PID 1 is read from it, as live."""
    probe = (
        "import json, sys\n"
        "from nodedoctor.facts import Facts\n"
        "from nodedoctor.facts.processes import processes\n"
        "from nodedoctor.facts.system import init_system\n"
        "from nodedoctor.sources.root import directory_root\n"
        "facts = Facts(directory_root(sys.argv[1]))\n"
        "procs, init = facts.get(processes), facts.get(init_system)\n"
        "print(json.dumps([procs.source, procs.pid1.comm if procs.pid1 else None,\n"
        "                  init.systemd, init.evidence.source if init.evidence else None]))\n"
    )
    root = tmp_path / "host"
    (root / "proc").mkdir(parents=True)
    script = f'mount --bind /proc "{root}/proc" && exec "{sys.executable}" -c "$0" "{root}"'
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    source, pid1, systemd, evidence = json.loads(done.stdout)
    comm = Path("/proc/1/comm").read_text(encoding="utf-8").strip()
    assert (source, pid1, evidence) == (HOST_PROCFS, comm, "/proc/1/comm")
    assert systemd is (comm == "systemd")


# -- deployer models -------------------------------------------------------------------------


def test_the_command_line_offers_every_model() -> None:
    assert set(CLI_PROFILES) == set(PROFILES) == set(BY_NAME)
    assert len(DEPLOYERS) == len(BY_NAME)


#: Each deployer's healthy node root: the model's markers, kubelet process and containerd
#: configuration are what the node has.
HEALTHY = {
    "kubeadm": "kubeadm-debian12",
    "kops": "kops-ubuntu2204",
    "k3s": "k3s-rpios-bookworm",
    "rke2": "rke2-rocky9",
    "microk8s": "microk8s-debian12",
}


@pytest.mark.parametrize(("name", "node"), sorted(HEALTHY.items()))
def test_each_deployer_is_detected_on_its_node(name: str, node: str) -> None:
    facts = _facts(NODES / node / "root")
    profile = facts.get(deployer_profile)
    model = BY_NAME[name]
    assert (profile.name, profile.deployer) == (name, model)
    kubelet = facts.get(processes).kubelet()
    assert kubelet is not None
    assert kubelet.comm in model.kubelet_processes
    assert facts.root.exists(model.containerd_config)
    state = facts.get(kubelet_state)
    assert state.running is True
    assert state.config_files == configured_files(profile)


def test_kubespray_is_detected_by_its_kubelet_files() -> None:
    profile = _facts(case_root("kubepods-invalid/good-kubespray-kube-reserved-cgroup-exists")).get(
        deployer_profile
    )
    assert profile.name == "kubespray"


def test_rke2_runs_the_kubelet_binary_with_k3s_agent_flags() -> None:
    k = _facts(NODES / "rke2-rocky9/root").get(kubelet_facts)
    assert k.installed
    assert k.unit == "rke2-server.service"
    assert k.runtime_endpoint is not None
    assert k.runtime_endpoint.value == "unix:///run/k3s/containerd/containerd.sock"
    driver = k.cgroup_driver
    assert driver is not None
    assert (driver.value, driver.origin) == ("systemd", "deployer")
    assert (
        driver.evidence.text
        == "RKE2 chooses systemd: RKE2 runs as rke2-server.service and the kernel gives cpuset"
    )


@pytest.mark.parametrize(("node", "who"), [("k3s-rpios-bookworm", "k3s"), ("rke2-rocky9", "rke2")])
def test_k3s_agents_pass_fail_swap_on_false(node: str, who: str) -> None:
    fail = _facts(NODES / node / "root").get(kubelet_facts).setting("failSwapOn")
    assert fail is not None
    assert (fail.value, fail.origin, fail.evidence.source) == (False, "deployer", who)
    assert "passes --fail-swap-on=false" in fail.evidence.text


def test_configured_files_are_the_deployers_the_node_shows(tmp_path: Path) -> None:
    """The kubelet RPM's /etc/sysconfig/kubelet stays after kubeadm reset: on a kubeadm node it
    does not mean "configured" (it does on a kOps node, where nodeup wrote it)."""
    (tmp_path / "usr/lib/systemd/system/kubelet.service.d").mkdir(parents=True)
    (tmp_path / "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf").write_text("")
    (tmp_path / "etc/sysconfig").mkdir(parents=True)
    (tmp_path / "etc/sysconfig/kubelet").write_text("KUBELET_EXTRA_ARGS=\n")
    facts = _facts(tmp_path)
    assert facts.get(deployer_profile).detected == ("kubeadm",)
    assert configured_files(facts.get(deployer_profile)) == KUBEADM.configured
    assert facts.get(kubelet_state).config_left == ()
    kops = _facts(tmp_path, profile="kops")
    assert kops.get(kubelet_state).config_left == (Evidence("/etc/sysconfig/kubelet", "present"),)


def test_rke2s_containerd_is_k3s_templates_in_its_own_directory(tmp_path: Path) -> None:
    """RKE2 renders k3s's containerd template on every start: an edit to the rendered file is
    lost, and the fix names RKE2's template."""
    from nodedoctor.facts.containerd import containerd_facts

    root = tmp_path / "root"
    shutil.copytree(NODES / "rke2-rocky9/root", root, symlinks=True)
    rendered = root / "var/lib/rancher/rke2/agent/etc/containerd/config.toml"
    healthy = _facts(root).get(containerd_facts)
    assert (healthy.layout, healthy.config_path) == ("k3s", "/" + str(rendered.relative_to(root)))
    assert healthy.cgroup_driver is not None
    assert healthy.cgroup_driver.value == "systemd"
    assert healthy.problems == ()
    text = rendered.read_text(encoding="utf-8")
    rendered.write_text(text.replace("SystemdCgroup = true", "SystemdCgroup = false"))
    [problem] = _facts(root).get(containerd_facts).problems
    assert problem.title.startswith("the rendered RKE2 config.toml was edited")
    assert problem.files == ("/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl",)
