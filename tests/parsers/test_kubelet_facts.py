"""Effective kubelet settings: the kubelet's precedence (flags over drop-ins over the config
file over defaults), systemd's unit and drop-in rules, and the deployers' layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import kubelet_facts, kubelet_summary
from nodedoctor.sources.root import Root, directory_root
from tests.helpers import ROOTS, case_root, check_root

V2_CGROUP = {
    "proc/self/mountinfo": "30 21 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime "
    "shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
    "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
    "sys/fs/cgroup/cgroup.subtree_control": "cpuset cpu io memory hugetlb pids rdma misc\n",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def kubeadm_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(ROOTS / "kubeadm-healthy-v2/root", root, symlinks=True)
    return root


def facts_of(root: Path) -> Facts:
    return Facts(directory_root(str(root)))


def test_kubeadm_defaults_and_sources(tmp_path: Path) -> None:
    k = facts_of(kubeadm_root(tmp_path)).get(kubelet_facts)
    assert k.installed
    assert k.configured
    assert k.unit == "kubelet.service"
    assert k.profile.name == "kubeadm"
    assert k.unit_files == (
        "/usr/lib/systemd/system/kubelet.service",
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    )
    driver = k.cgroup_driver
    assert driver is not None
    assert driver.origin == "config"
    assert (driver.evidence.source, driver.evidence.line) == ("/var/lib/kubelet/config.yaml", 15)
    endpoint = k.runtime_endpoint
    assert endpoint is not None
    assert endpoint.origin == "flag"
    assert endpoint.value == "unix:///var/run/containerd/containerd.sock"
    assert endpoint.evidence.source == "/var/lib/kubelet/kubeadm-flags.env"
    assert k.setting("cgroupsPerQOS").is_default  # type: ignore[union-attr]
    assert k.value("failCgroupV1") is False  # 1.33
    gate = k.driver_from_cri
    assert gate is not None
    assert gate.value is True
    assert gate.origin == "default"
    assert str(k.version.value) == "1.33.5-1.1"  # type: ignore[union-attr]


def test_flag_in_default_file_beats_config(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    write(root, {"etc/default/kubelet": 'KUBELET_EXTRA_ARGS="--cgroup-driver=cgroupfs --v=2"\n'})
    driver = facts_of(root).get(kubelet_facts).cgroup_driver
    assert driver is not None
    assert driver.value == "cgroupfs"
    assert driver.origin == "flag"
    assert (driver.evidence.source, driver.evidence.line) == ("/etc/default/kubelet", 1)
    assert driver.flag == "cgroup-driver"
    assert driver.flag_text == "--cgroup-driver=cgroupfs"


def test_etc_drop_in_masks_usr_lib_one_and_etc_unit_wins(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    write(
        root,
        {
            # Same name in /etc hides the packaged drop-in entirely.
            "etc/systemd/system/kubelet.service.d/10-kubeadm.conf": (
                '[Service]\nEnvironment="KUBELET_CONFIG_ARGS=--config=/etc/kubelet.yaml"\n'
                "ExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS\n"
            ),
            "etc/systemd/system/kubelet.service.d/20-qos.conf": (
                "[Service]\nExecStart=\n"
                "ExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS --cgroups-per-qos=false \\\n"
                "    --enforce-node-allocatable=\n"
                "Delegate=yes\n"
            ),
            "etc/systemd/system/kubelet.service": "[Service]\nExecStart=/usr/local/bin/kubelet\n",
            "etc/kubelet.yaml": "kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
        },
    )
    k = facts_of(root).get(kubelet_facts)
    assert k.unit_files == (
        "/etc/systemd/system/kubelet.service",
        "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/etc/systemd/system/kubelet.service.d/20-qos.conf",
    )
    assert k.config_path is not None
    assert k.config_path.value == "/etc/kubelet.yaml"
    assert k.value("cgroupDriver") == "cgroupfs"
    per_qos = k.setting("cgroupsPerQOS")
    assert per_qos is not None
    assert per_qos.value is False
    assert (per_qos.evidence.source, per_qos.evidence.line) == (
        "/etc/systemd/system/kubelet.service.d/20-qos.conf",
        3,
    )
    enforce = k.setting("enforceNodeAllocatable")
    assert enforce is not None
    assert enforce.value == []
    assert enforce.evidence.line == 4
    assert k.delegate is not None
    assert k.delegate.value == "yes"
    # kubeadm-flags.env is no longer read: the drop-in replaced the one naming it.
    assert k.value("containerRuntimeEndpoint") == "unix:///run/containerd/containerd.sock"


def test_config_dir_between_file_and_flags(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    write(
        root,
        {
            "etc/default/kubelet": "KUBELET_EXTRA_ARGS=--config-dir=/etc/kubelet.conf.d "
            "--feature-gates=NodeSwap=false\n",
            "etc/kubelet.conf.d/10-a.conf": "cgroupsPerQOS: false\nfailSwapOn: false\n"
            "featureGates:\n  NodeSwap: true\n  KubeletCgroupDriverFromCRI: false\n",
            "etc/kubelet.conf.d/20-b.conf": "failSwapOn: true\n",
            "etc/kubelet.conf.d/notes.txt": "cgroupsPerQOS: true\n",
        },
    )
    k = facts_of(root).get(kubelet_facts)
    assert [p for p, _ in k.drop_ins] == [
        "/etc/kubelet.conf.d/10-a.conf",
        "/etc/kubelet.conf.d/20-b.conf",
    ]
    assert k.value("cgroupsPerQOS") is False
    fail_swap = k.setting("failSwapOn")
    assert fail_swap is not None
    assert fail_swap.value is True
    assert fail_swap.evidence.source == "/etc/kubelet.conf.d/20-b.conf"
    assert k.value("cgroupDriver") == "systemd"  # still the config file's
    assert k.feature_gates["NodeSwap"].value is False  # the flag wins gate by gate
    assert k.feature_gates["NodeSwap"].origin == "flag"
    assert k.driver_from_cri.value is False  # type: ignore[union-attr]


def test_version_aware_defaults(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    status = root / "var/lib/dpkg/status"
    for version, fail_v1, gate in (
        ("1.35.0-1.1", True, True),
        ("1.31.4-1.1", False, True),
        ("1.29.9-1.1", False, False),
    ):
        status.write_text(status.read_text().replace("1.33.5-1.1", version))
        k = facts_of(root).get(kubelet_facts)
        assert k.value("failCgroupV1") is fail_v1, version
        assert k.driver_from_cri is not None, version
        assert k.driver_from_cri.value is gate, version
        status.write_text(status.read_text().replace(version, "1.33.5-1.1"))
    status.write_text("")
    k = facts_of(root).get(kubelet_facts)
    assert k.version is None
    assert k.setting("failCgroupV1") is None
    assert k.driver_from_cri is None


def test_missing_config_file_makes_settings_unknown(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    (root / "var/lib/kubelet/config.yaml").unlink()
    k = facts_of(root).get(kubelet_facts)
    assert k.installed
    assert not k.configured
    assert "does not exist" in k.pending[0]
    assert k.readable
    report = check_root(root, only=("kubepods-invalid", "qos-cgroups-disabled"))
    assert {s.rule for s in report.skipped} == {"kubepods-invalid", "qos-cgroups-disabled"}


def test_required_environment_file_missing(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    dropin = root / "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    dropin.write_text(
        dropin.read_text().replace("EnvironmentFile=-/etc/default", "EnvironmentFile=/etc/default")
    )
    (root / "etc/default/kubelet").unlink()
    k = facts_of(root).get(kubelet_facts)
    assert not k.configured
    assert "systemd will not start the unit" in k.problems[0]


def test_kubeadm_files_without_unit(tmp_path: Path) -> None:
    root = kubeadm_root(tmp_path)
    shutil.rmtree(root / "usr/lib/systemd/system")
    k = facts_of(root).get(kubelet_facts)
    assert k.configured
    assert k.config_path is not None
    assert k.config_path.evidence.source == "kubeadm"
    assert k.value("containerRuntimeEndpoint") == "unix:///var/run/containerd/containerd.sock"


def test_microk8s(tmp_path: Path) -> None:
    k = facts_of(ROOTS / "microk8s-1.29-workaround-left/root").get(kubelet_facts)
    assert k.profile.name == "microk8s"
    assert k.unit == "snap.microk8s.daemon-kubelite.service"
    assert str(k.version.value) == "v1.29.15"  # type: ignore[union-attr]
    assert k.delegate is not None
    assert k.delegate.evidence.source.endswith("delegate.conf")
    enforce = k.setting("enforceNodeAllocatable")
    assert enforce is not None
    assert enforce.flag_text == '--enforce-node-allocatable=""'
    assert enforce.evidence.source == "/var/snap/microk8s/current/args/kubelet"
    assert k.value("containerRuntimeEndpoint") == "/var/snap/microk8s/common/run/containerd.sock"
    driver = k.cgroup_driver
    assert driver is not None
    assert driver.is_default
    assert "MicroK8s sets none" in driver.evidence.text
    assert k.config_path is None
    assert k.config_source == "/var/snap/microk8s/current/args/kubelet"


def k3s_root(tmp_path: Path, config: str, cpuset: bool = True) -> Path:
    files = dict(V2_CGROUP)
    if not cpuset:
        files["sys/fs/cgroup/cgroup.controllers"] = "cpu io memory pids\n"
    files.update(
        {
            "etc/systemd/system/k3s.service": "[Service]\nType=notify\nDelegate=yes\n"
            "ExecStart=/usr/local/bin/k3s \\\n    server \\\n",
            "etc/rancher/k3s/config.yaml": config,
            "var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf": (
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                "shutdownGracePeriod: 0s\n"
            ),
        }
    )
    return write(tmp_path / "root", files)


def test_k3s_own_driver_choice_and_kubelet_arg(tmp_path: Path) -> None:
    k = facts_of(k3s_root(tmp_path, "write-kubeconfig-mode: '0644'\n")).get(kubelet_facts)
    assert k.profile.name == "k3s"
    assert k.unit == "k3s.service"
    driver = k.cgroup_driver
    assert driver is not None
    assert driver.value == "systemd"
    assert driver.origin == "deployer"
    assert k.value("containerRuntimeEndpoint") == "unix:///run/k3s/containerd/containerd.sock"
    assert [p for p, _ in k.drop_ins] == [
        "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf"
    ]
    assert k.delegate is not None
    assert k.delegate.value == "yes"


def test_k3s_kubelet_arg_overrides(tmp_path: Path) -> None:
    root = k3s_root(tmp_path, "kubelet-arg:\n  - cgroup-driver=cgroupfs\n")
    driver = facts_of(root).get(kubelet_facts).cgroup_driver
    assert driver is not None
    assert driver.value == "cgroupfs"
    assert driver.origin == "flag"
    assert (driver.evidence.source, driver.evidence.line) == ("/etc/rancher/k3s/config.yaml", 2)


def test_k3s_kubelet_arg_on_the_unit_command_line(tmp_path: Path) -> None:
    root = k3s_root(tmp_path, "kubelet-arg:\n  - cgroup-driver=cgroupfs\n")
    unit = root / "etc/systemd/system/k3s.service"
    unit.write_text(
        "[Service]\nType=notify\nExecStart=/usr/local/bin/k3s \\\n    server \\\n"
        "\t'--kubelet-arg=cgroup-driver=systemd' \\\n"
    )
    driver = facts_of(root).get(kubelet_facts).cgroup_driver
    assert driver is not None
    assert driver.value == "systemd"
    assert (driver.evidence.source, driver.evidence.line) == (
        "/etc/systemd/system/k3s.service",
        5,
    )


def test_k3s_without_cpuset_uses_cgroupfs(tmp_path: Path) -> None:
    driver = facts_of(k3s_root(tmp_path, "", cpuset=False)).get(kubelet_facts).cgroup_driver
    assert driver is not None
    assert driver.value == "cgroupfs"


def test_no_kubelet(tmp_path: Path) -> None:
    facts = facts_of(write(tmp_path / "root", V2_CGROUP))
    k = facts.get(kubelet_facts)
    assert not k.installed
    assert k.unit is None
    assert kubelet_summary(facts) == {
        "installed": False,
        "version": None,
        "cgroup_driver": None,
        "config": None,
    }


def test_summary_block() -> None:
    report = check_root(ROOTS / "kubeadm-healthy-v2/root")
    assert report.node["kubelet"] == {
        "installed": True,
        "version": "1.33.5-1.1",
        "cgroup_driver": "systemd",
        "config": "/var/lib/kubelet/config.yaml",
        "deployer": "kubeadm",
        "unit": "kubelet.service",
    }


def test_profile_flag_overrides_detection() -> None:
    root = case_root("kubepods-invalid/bad-kubespray-kube-reserved-cgroup-missing")
    detected = Facts(directory_root(str(root))).get(kubelet_facts)
    assert detected.profile.name == "kubespray"
    assert not detected.profile.forced
    forced = Facts(directory_root(str(root)), profile="kubeadm").get(kubelet_facts)
    assert forced.profile.name == "kubeadm"
    assert forced.profile.forced
    assert forced.profile.detected == ("kubespray",)
    # The unit decides where the flags are, whichever profile is named.
    assert forced.config_path is not None
    assert forced.config_path.value == "/etc/kubernetes/kubelet-config.yaml"


def test_running_kubelet_command_line_when_no_files(tmp_path: Path) -> None:
    """A recorded node (a bundle) with no unit files: the kubelet's own argv decides."""
    argv = "/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0--cgroup-driver=cgroupfs\0"
    root = write(
        tmp_path / "root",
        {
            **V2_CGROUP,
            "proc/4242/comm": "kubelet\n",
            "proc/4242/cmdline": argv,
            "var/lib/kubelet/config.yaml": "kind: KubeletConfiguration\ncgroupDriver: systemd\n",
        },
    )
    facts = Facts(Root(str(root), running=True))
    k = facts.get(kubelet_facts)
    driver = k.cgroup_driver
    assert driver is not None
    assert driver.value == "cgroupfs"
    assert driver.origin == "flag"
    assert driver.evidence.source == "/proc/4242/cmdline"
    assert k.config_path is not None
    assert k.config_path.value == "/var/lib/kubelet/config.yaml"
    # A directory root shows the same from its recorded /proc/<pid>/comm (issue 11) ...
    assert facts_of(root).get(kubelet_facts).words == k.words
    # ... and one that records no process never claims to know what runs.
    (root / "proc/4242/comm").unlink()
    assert not facts_of(root).get(kubelet_facts).words


def test_flag_text_as_written_in_an_env_file() -> None:
    root = case_root("qos-cgroups-disabled/bad-kubeadm-extra-args")
    k = Facts(directory_root(str(root))).get(kubelet_facts)
    per_qos = k.setting("cgroupsPerQOS")
    enforce = k.setting("enforceNodeAllocatable")
    assert per_qos is not None
    assert enforce is not None
    assert (per_qos.flag_text, per_qos.evidence.source) == (
        "--cgroups-per-qos=false",
        "/etc/default/kubelet",
    )
    # The closing quote belongs to KUBELET_EXTRA_ARGS, not to the flag.
    assert enforce.flag_text == "--enforce-node-allocatable="
    assert (
        enforce.evidence.text
        == 'KUBELET_EXTRA_ARGS="--cgroups-per-qos=false --enforce-node-allocatable="'
    )


def test_k3s_config_dropins_replace_and_append(tmp_path: Path) -> None:
    # docs.k3s.io "Multiple Config Files": config.yaml, then config.yaml.d/*.yaml in name
    # order; a plain key replaces the value so far, "key+" appends to it.
    root = k3s_root(tmp_path, "kubelet-arg:\n  - cgroup-driver=cgroupfs\n  - max-pods=90\n")
    dropins = root / "etc/rancher/k3s/config.yaml.d"
    dropins.mkdir()
    (dropins / "20-pods.yaml").write_text("kubelet-arg+:\n  - max-pods=200\n")
    (dropins / "10-driver.yaml").write_text("kubelet-arg:\n  - cgroup-driver=systemd\n")
    k = facts_of(root).get(kubelet_facts)
    driver = k.cgroup_driver
    assert driver is not None
    assert driver.value == "systemd"
    assert (driver.evidence.source, driver.evidence.line) == (
        "/etc/rancher/k3s/config.yaml.d/10-driver.yaml",
        2,
    )
    # 10-driver.yaml replaced config.yaml's list (max-pods=90 is gone); 20-pods.yaml appended.
    pods = [(w.word, w.evidence.source) for w in k.words if w.word.startswith("--max-pods")]
    assert pods == [("--max-pods=200", "/etc/rancher/k3s/config.yaml.d/20-pods.yaml")]


def test_k3s_dropin_append_keeps_config_yaml(tmp_path: Path) -> None:
    root = k3s_root(tmp_path, "kubelet-arg:\n  - cgroup-driver=cgroupfs\n")
    dropins = root / "etc/rancher/k3s/config.yaml.d"
    dropins.mkdir()
    (dropins / "50-extra.yaml").write_text("kubelet-arg+:\n  - max-pods=200\n")
    driver = facts_of(root).get(kubelet_facts).cgroup_driver
    assert driver is not None
    assert (driver.value, driver.evidence.source) == ("cgroupfs", "/etc/rancher/k3s/config.yaml")


def test_k3s_command_line_kubelet_arg_replaces_config_list(tmp_path: Path) -> None:
    # A --kubelet-arg on ExecStart= replaces the config file's whole kubelet-arg list: the
    # config's cgroup-driver=cgroupfs no longer applies, so k3s's own choice stands.
    root = k3s_root(tmp_path, "kubelet-arg:\n  - cgroup-driver=cgroupfs\n")
    (root / "etc/systemd/system/k3s.service").write_text(
        "[Service]\nType=notify\nExecStart=/usr/local/bin/k3s \\\n    server \\\n"
        "\t'--kubelet-arg=max-pods=200' \\\n"
    )
    driver = facts_of(root).get(kubelet_facts).cgroup_driver
    assert driver is not None
    assert (driver.value, driver.origin) == ("systemd", "deployer")
