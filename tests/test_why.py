"""``nodedoctor why`` and ``check --logs``: every symptom string in the research is recognised
as the rule it belongs to, as users paste it (klog headers, escaped quotes, their own names,
UIDs and numbers), the matcher stays silent on healthy lines, and the command answers with
the cause on the node.

The table runs against the rule docs that exist: a row whose rules are not registered in this
build is skipped with the reason; a row whose rule is registered but whose doc lacks the
symptom fails (KNOWN_GAPS lists the ones reported to the rules' authors, as strict xfails).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodedoctor.cli import main
from nodedoctor.rules import all_rules
from nodedoctor.rules.families import ENGINE_RULES
from nodedoctor.rules.symptoms import SymptomIndex, index_for
from tests.helpers import ROOTS

RULES = [r for r in all_rules() if r.id not in ENGINE_RULES]
REGISTERED = {r.id for r in RULES}
INDEX = index_for(RULES)

# (source, pasted text, rule ids any of which is right)
RESEARCH: list[tuple[str, str, set[str]]] = [
    # -- research/deployers-and-corrections.md --------------------------------------------
    (
        "corrections: runc >= 1.1 without systemd",
        "failed to create shim task: OCI runtime create failed: runc create failed: systemd not "
        "running on this host, cannot use systemd cgroups manager: unknown",
        {"cgroup-driver-not-systemd"},
    ),
    (
        "corrections: k3s cpuset (v2)",
        'time="2025-09-02T16:38:06Z" level=fatal msg="failed to find cpuset cgroup (v2)"',
        {"cgroup-controller-disabled"},
    ),
    (
        "corrections: k3s cpu (v2)",
        'level=fatal msg="failed to find cpu cgroup (v2)"',
        {"cgroup-controller-disabled"},
    ),
    (
        "corrections: k3s#335 pids",
        "Failed to find subsystem mount for required subsystem: pids",
        {"cgroup-controller-disabled"},
    ),
    (
        "corrections: KEP-4569 kubelet 1.31-1.34 log",
        'W1015 10:00:00.000000    1234 server.go:1] "cgroup v1 detected. cgroup v1 support has '
        "been transitioned into maintenance mode, please plan for the migration towards cgroup "
        'v2. More information at https://git.k8s.io/enhancements/keps/sig-node/4569-cgroup-v1-maintenance-mode"',
        {"cgroup-v1-unsupported"},
    ),
    (
        "corrections: kubeadm 1.31-1.34 preflight",
        "\t[WARNING SystemVerification]: cgroups v1 support is in maintenance mode, please "
        "migrate to cgroups v2",
        {"cgroup-v1-unsupported"},
    ),
    (
        "corrections: kubeadm reset unmount (slash)",
        "[reset] encountered the following errors while unmounting directories in "
        '"/var/lib/kubelet/": failed to unmount "/var/lib/kubelet/pods/x/volumes/y": device or '
        "resource busy",
        {"kubelet-mounts-left"},
    ),
    # -- research/kubelet-cgroups.md ------------------------------------------------------
    (
        "kubelet-cgroups §1.4 (<=1.30)",
        'E0124 09:12:44.118231    2210 kubelet.go:1542] "Failed to start ContainerManager" '
        'err="failed to initialize top level QOS containers: root container [kubepods] '
        "doesn't exist\"",
        {"kubepods-invalid", "cgroup-controller-not-delegated"},
    ),
    (
        "kubelet-cgroups §1.4 short",
        "root container [kubepods] doesn't exist",
        {"kubepods-invalid", "cgroup-controller-not-delegated"},
    ),
    (
        "kubelet-cgroups §1.4 (>=1.31)",
        'error validating root container [kubepods] : cgroup ["kubepods"] has some missing '
        "controllers: cpuset",
        {"kubepods-invalid", "cgroup-controller-not-delegated"},
    ),
    (
        "kubelet-cgroups §1.4 invalid configuration",
        'E1123 08:01:02.000001   912 run.go:72] "command failed" err="failed to run Kubelet: '
        'invalid configuration: cgroup [\\"kubepods\\"] has some missing controllers: cpu"',
        {"kubepods-invalid", "cgroup-controller-not-delegated"},
    ),
    (
        "kubelet-cgroups §1.4 cgroup-root (kind #2440)",
        'failed to run Kubelet: invalid configuration: cgroup-root ["kubelet"] doesn\'t exist',
        {"kubepods-invalid"},
    ),
    (
        "kubelet-cgroups §1.2 v1",
        'cgroup ["kubepods"] has some missing paths: /sys/fs/cgroup/cpuset/kubepods',
        {"kubepods-invalid", "cgroup-controller-disabled"},
    ),
    (
        "kubelet-cgroups §1.3",
        "system validation failed - Following Cgroup subsystem not mounted: [memory]",
        {"cgroup-controller-disabled"},
    ),
    (
        "kubelet-cgroups §3 SystemVerification",
        "[ERROR SystemVerification]: missing required cgroups: memory",
        {"cgroup-controller-disabled"},
    ),
    (
        "kubelet-cgroups §1.4 swap",
        'E0301 10:00:00.000000    1234 run.go:74] "command failed" err="failed to run Kubelet: '
        "running with swap on is not supported, please disable swap or set --fail-swap-on flag "
        'to false"',
        {"swap-enabled"},
    ),
    (
        "kubelet-cgroups §1.4 swap (older)",
        "running with swap on is not supported, please disable swap! or set --fail-swap-on flag "
        "to false. /proc/swaps contained: [Filename Type Size Used Priority /swap.img file "
        "4194300 0 -2]",
        {"swap-enabled"},
    ),
    ("kubelet-cgroups §1.4 swap short", "running with swap on is not supported", {"swap-enabled"}),
    (
        "kubelet-cgroups §3 kubeadm swap (old)",
        "\t[ERROR Swap]: running with swap on is not supported. Please disable swap",
        {"swap-enabled"},
    ),
    (
        "kubelet-cgroups §3 kubeadm swap (1.24-1.28)",
        "[WARNING Swap]: swap is enabled; production deployments should disable swap unless "
        "testing the NodeSwap feature gate of the kubelet",
        {"swap-enabled"},
    ),
    (
        "kubelet-cgroups §3 kubeadm swap (1.29-1.30)",
        "[WARNING Swap]: swap is supported for cgroup v2 only; the NodeSwap feature gate of the "
        "kubelet is beta but disabled by default",
        {"swap-enabled"},
    ),
    (
        "kubelet-cgroups §3 kubeadm swap (>=1.31)",
        "[WARNING Swap]: swap is supported for cgroup v2 only. The kubelet must be properly "
        "configured to use swap. Please refer to https://kubernetes.io/docs/concepts/"
        "architecture/nodes/#swap-memory, or disable swap on the node",
        {"swap-enabled"},
    ),
    (
        "kubelet-cgroups §2 failCgroupV1 (1.31-1.34)",
        'E0901 12:00:00.000000    4242 run.go:72] "command failed" err="failed to validate '
        "kubelet configuration, error: kubelet is configured to not run on a host using cgroup "
        'v1. cgroup v1 support is in maintenance mode, path: &TypeMeta{Kind:,APIVersion:,}"',
        {"cgroup-v1-unsupported"},
    ),
    (
        "kubelet-cgroups §2 failCgroupV1 (>=1.35)",
        "kubelet is configured to not run on a host using cgroup v1. cgroup v1 support is "
        "unsupported and will be removed in a future release",
        {"cgroup-v1-unsupported"},
    ),
    (
        "kubelet-cgroups §3 SV v1.9-v1.11",
        "[WARNING SystemVerification]: cgroups v1 support is in maintenance mode, please "
        "migrate to cgroups v2",
        {"cgroup-v1-unsupported"},
    ),
    (
        "kubelet-cgroups §3 SV v1.12.1",
        "[ERROR SystemVerification]: cgroups v1 support is deprecated and will be removed in a "
        "future release. Please migrate to cgroups v2. To explicitly enable cgroups v1 support "
        "for kubelet v1.35 or newer, you must set the kubelet configuration option "
        "'FailCgroupV1' to 'false'.",
        {"cgroup-v1-unsupported"},
    ),
    (
        "kubelet-cgroups §1.4 CgroupV1 event",
        "Warning  CgroupV1  node/worker-1  cgroup v1 support is in maintenance mode, please "
        "migrate to cgroup v2",
        {"cgroup-v1-unsupported"},
    ),
    (
        "kubelet-cgroups §2 validation",
        "invalid configuration: enforceNodeAllocatable (--enforce-node-allocatable) is not "
        "supported unless cgroupsPerQOS (--cgroups-per-qos) is set to true",
        {"kubepods-invalid", "qos-cgroups-disabled"},
    ),
    (
        "kubelet-cgroups §1.5 runc driver mismatch",
        "failed to create containerd task: failed to create shim task: OCI runtime create "
        'failed: expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
        'got "/kubepods/burstable/pod6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c/3e4f5a6b7c8d" instead',
        {"cgroup-driver-mismatch"},
    ),
    (
        "kubelet-cgroups §1.5 dockershim",
        'failed to run Kubelet: misconfiguration: kubelet cgroup driver: "cgroupfs" is '
        'different from docker cgroup driver: "systemd"',
        {"cgroup-driver-mismatch"},
    ),
    (
        "kubelet-cgroups §2 KEP-4033 fallback",
        'I0101 00:00:00.000000    1000 server.go:1234] "CRI implementation should be updated '
        "to support RuntimeConfig when KubeletCgroupDriverFromCRI feature gate has been "
        'enabled. Falling back to using cgroupDriver from kubelet config."',
        {"runtime-version-unsupported"},
    ),
    (
        "kubelet-cgroups §2 kubeadm 1.35 preflight",
        "[WARNING ContainerRuntimeVersion]: You must update your container runtime to a "
        "version that supports the CRI method RuntimeConfig. Falling back to using "
        "cgroupDriver from kubelet config will be removed in 1.36. For more information, see "
        "https://git.k8s.io/enhancements/keps/sig-node/4033-group-driver-detection-over-cri",
        {"runtime-version-unsupported"},
    ),
    # -- research/runtimes.md -------------------------------------------------------------
    (
        "runtimes §1.2 RuntimeConfig unimplemented",
        'E0101 00:00:00.000000    1000 remote_runtime.go:1] "RuntimeConfig from runtime '
        'service failed" err="rpc error: code = Unimplemented desc = unknown method '
        'RuntimeConfig for service runtime.v1.RuntimeService"',
        {"runtime-version-unsupported"},
    ),
    (
        "runtimes §1.6 short",
        "unknown service runtime.v1.RuntimeService",
        {"containerd-cri-disabled"},
    ),
    (
        "runtimes §1.6 kubeadm <=1.30",
        '\t[ERROR CRI]: container runtime is not running: output: time="2024-05-02T10:11:12Z" '
        'level=fatal msg="validate service connection: CRI v1 runtime API is not implemented '
        'for endpoint \\"unix:///var/run/containerd/containerd.sock\\": rpc error: code = '
        'Unimplemented desc = unknown service runtime.v1.RuntimeService"\\n, error: exit '
        "status 1",
        {"containerd-cri-disabled"},
    ),
    (
        "runtimes §1.6 kubeadm <=1.25",
        '[ERROR CRI]: container runtime is not running: output: time="2022-08-01T10:11:12Z" '
        'level=fatal msg="getting status of runtime: rpc error: code = Unimplemented desc = '
        'unknown service runtime.v1alpha2.RuntimeService"',
        {"containerd-cri-disabled"},
    ),
    (
        "runtimes §1.6 kubeadm >=1.31",
        "[preflight] WARNING: Couldn't create the interface used for talking to the container "
        "runtime: failed to create new CRI runtime service: validate service connection: "
        'validate CRI v1 runtime API for endpoint "unix:///var/run/containerd/containerd.sock":'
        " rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService",
        {"containerd-cri-disabled"},
    ),
    (
        "runtimes §1.6 kubelet",
        'E0301 10:00:00.000000    1234 run.go:74] "command failed" err="failed to run Kubelet: '
        'validate service connection: validate CRI v1 runtime API for endpoint \\"unix:///run/'
        'containerd/containerd.sock\\": rpc error: code = Unimplemented desc = unknown service '
        'runtime.v1.RuntimeService"',
        {"containerd-cri-disabled"},
    ),
    (
        "runtimes §1.3 version 2 with short name",
        'containerd: invalid disabled plugin URI "cri" expect io.containerd.x.vx',
        {"containerd-cri-disabled", "containerd-config-ignored"},
    ),
    (
        "runtimes §1.3 version 3 on 1.x",
        "containerd: containerd config version `3` is not supported, the max version is `2`, "
        "use `containerd config default` to generate a new config or manually revert to "
        "version `2`",
        {"containerd-config-ignored"},
    ),
    (
        "runtimes §1.3 unknown key",
        'time="2025-01-10T10:00:00.000000000Z" level=warning msg="Ignoring unknown key in TOML '
        'for plugin" error="strict mode: fields in the document are missing in the target '
        'struct" key=SystemdCgroup plugin=io.containerd.cri.v1.runtime',
        {"containerd-config-ignored"},
    ),
    (
        "runtimes §1.5 legacy systemd_cgroup",
        'level=warning msg="failed to load plugin io.containerd.grpc.v1.cri" error="invalid '
        'plugin config: `systemd_cgroup` only works for runtime io.containerd.runtime.v1.linux"',
        {"containerd-config-ignored", "containerd-cri-disabled", "cgroup-driver-mismatch"},
    ),
    (
        "runtimes §2 CRI-O conmon_cgroup (systemd)",
        "level=fatal msg=\"validating runtime config: conmon cgroup should be 'pod' or a "
        'systemd slice"',
        {"cgroup-driver-mismatch", "cgroup-driver-not-systemd", "crio-conmon-cgroup-invalid"},
    ),
    (
        "runtimes §2 CRI-O conmon_cgroup (cgroupfs)",
        "cgroupfs manager conmon cgroup should be 'pod' or empty, but got: 'system.slice'",
        {"cgroup-driver-mismatch", "cgroup-driver-not-systemd", "crio-conmon-cgroup-invalid"},
    ),
    (
        "runc loadFactory: systemd driver without systemd",
        "Error response from daemon: OCI runtime create failed: systemd cgroup flag passed, but "
        "systemd support for managing cgroups is not available: unknown",
        {"cgroup-driver-not-systemd"},
    ),
    (
        "runtimes §4 runc error",
        "unable to signal init: permission denied",
        {"apparmor-blocks-runc-signal"},
    ),
    (
        "runtimes §4 pod event",
        "Warning  FailedKillPod  3m (x21 over 48m)  kubelet  error killing pod: [failed to "
        '"KillContainer" for "nginx" with KillContainerError: "rpc error: code = Unknown desc ='
        ' failed to kill container \\"8c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f'
        '5e4d3c2b\\": unknown error after kill: runc did not terminate successfully: exit '
        'status 1: unable to signal init: permission denied\\n: unknown"]',
        {"apparmor-blocks-runc-signal"},
    ),
    (
        "runtimes §4 kernel log",
        "Jun  3 10:12:01 node1 kernel: [ 812.104121] audit: type=1400 audit(1717409522.101:202)"
        ': apparmor="DENIED" operation="signal" class="signal" profile="cri-containerd.'
        'apparmor.d" pid=4122 comm="runc" requested_mask="receive" denied_mask="receive" '
        'signal=term peer="runc"',
        {"apparmor-blocks-runc-signal"},
    ),
    (
        "runtimes §4 audit.log (docker-default)",
        'type=AVC msg=audit(1713905126.444:253): apparmor="DENIED" operation="signal" '
        'class="signal" profile="docker-default" pid=9289 comm="runc" requested_mask="receive"'
        ' denied_mask="receive" signal=kill peer="runc"',
        {"apparmor-blocks-runc-signal"},
    ),
    (
        "runtimes §4 110177 event",
        "Normal   SandboxChanged  4m (x845 over 3d)  kubelet  Pod sandbox changed, it will be "
        "killed and re-created.",
        {"cgroup-driver-mismatch"},
    ),
    # -- research/incidents.md ------------------------------------------------------------
    (
        "incidents §1 k3s v2",
        'time="2024-05-04T10:00:00Z" level=fatal msg="failed to find memory cgroup (v2)"',
        {"cgroup-controller-disabled"},
    ),
    (
        "incidents §1 k3s v2 short",
        "failed to find memory cgroup (v2)",
        {"cgroup-controller-disabled"},
    ),
    (
        "incidents §1 k3s v1",
        'level=fatal msg="Failed to find memory cgroup, you may need to add '
        '\\"cgroup_memory=1 cgroup_enable=memory\\" to your linux cmdline (/boot/cmdline.txt '
        'on a Raspberry Pi)"',
        {"cgroup-controller-disabled"},
    ),
    (
        "incidents §1 unknown parameters",
        '[    0.000000] Unknown kernel command line parameters "cgroup_memory=1 '
        'cgroup_enable=memory", will be passed to user space.',
        {"boot-cmdline-ignored", "cgroup-controller-disabled"},
    ),
    (
        "incidents §2 microk8s",
        "Jan 24 10:01:02 node1 microk8s.daemon-kubelite[2210]: E0124 10:01:02.123456    2210 "
        'kubelet.go:1542] "Failed to start ContainerManager" err="failed to initialize top '
        "level QOS containers: root container [kubepods] doesn't exist\"",
        {"kubepods-invalid", "cgroup-controller-not-delegated"},
    ),
    (
        "incidents §3 runc",
        "unknown error after kill: runc did not terminate successfully: exit status 1: unable "
        "to signal init: permission denied",
        {"apparmor-blocks-runc-signal"},
    ),
    (
        "incidents §3 sandbox",
        "Pod sandbox changed, it will be killed and re-created",
        {"cgroup-driver-mismatch"},
    ),
    (
        "incidents §5 kk",
        "rm: cannot remove '/run/calico/cgroup/cgroup.procs': Operation not permitted",
        {"foreign-cgroup-mount"},
    ),
    (
        "incidents §5 kk (other file)",
        "rm: cannot remove '/run/calico/cgroup/sys-fs-fuse-connections.mount/memory.events': "
        "Operation not permitted",
        {"foreign-cgroup-mount"},
    ),
    (
        "incidents §5 kk (another node's file)",
        "node2: rm: cannot remove '/run/calico/cgroup/kubepods.slice/cpu.max': Operation not "
        "permitted",
        {"foreign-cgroup-mount"},
    ),
    (
        "incidents §5 mount output",
        "none on /run/calico/cgroup type cgroup2 (rw,relatime,seclabel)",
        {"foreign-cgroup-mount"},
    ),
    (
        "kubelet-cgroups §5 kubeadm reset",
        '[reset] encountered the following errors while unmounting directories in "/var/lib/'
        'kubelet"',
        {"kubelet-mounts-left"},
    ),
]

#: Rows that fail because a rule's doc lacks the symptom (reported, not edited here).
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.parametrize(("source", "text", "expected"), RESEARCH, ids=[r[0] for r in RESEARCH])
def test_research_symptom_is_recognised(source: str, text: str, expected: set[str]) -> None:
    if not expected & REGISTERED:
        pytest.skip(f"{', '.join(sorted(expected))} not registered in this build")
    if source in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[source])
    got = [m.rule_id for m in INDEX.match_text(text)]
    assert expected & set(got), f"{source}: matched {got}, wanted one of {sorted(expected)}"


# Lines a healthy node logs, or too generic to name a cause: nothing may match.
HEALTHY = [
    'I0101 00:00:00.000000    1000 server.go:1] "Using cgroup driver setting received from '
    'the CRI runtime" cgroupDriver="systemd"',
    '[reset] Unmounting mounted directories in "/var/lib/kubelet"',
    "permission denied",
    "Operation not permitted",
    "Started kubelet: The Kubernetes Node Agent.",
    'I0124 10:01:02.123456    2210 container_manager_linux.go:300] "Creating Container Manager'
    ' object based on Node Config"',
    'Successfully pulled image "registry.k8s.io/pause:3.10" in 1.2s',
    "Normal  Killing  30s  kubelet  Stopping container nginx",
    'audit: type=1400 audit(1717408934.108:2): apparmor="STATUS" operation="profile_load" '
    'profile="unconfined" name="runc" pid=612 comm="apparmor_parser"',
    "rm: cannot remove '/tmp/x': No such file or directory",
]


@pytest.mark.parametrize("text", HEALTHY)
def test_healthy_lines_match_nothing(text: str) -> None:
    assert INDEX.match_text(text) == []


def test_matcher_prefers_the_contiguous_symptom() -> None:
    index = SymptomIndex(
        [
            ("containerd-cri-disabled", "unknown service runtime.v1.RuntimeService"),
            (
                "runtime-version-unsupported",
                '"RuntimeConfig from runtime service failed" err="rpc error: code = '
                "Unimplemented desc = unknown method RuntimeConfig for service "
                'runtime.v1.RuntimeService"',
            ),
        ]
    )
    line = (
        "rpc error: code = Unimplemented desc = unknown method RuntimeConfig for service "
        "runtime.v1.RuntimeService"
    )
    assert [m.rule_id for m in index.match_text(line)] == ["runtime-version-unsupported"]


def test_placeholders_absorb_user_specific_parts() -> None:
    index = SymptomIndex(
        [
            (
                "kubelet-mounts-left",
                "rm: cannot remove '/var/lib/kubelet/pods/…/volumes/"
                "kubernetes.io~projected/kube-api-access-…': Device or resource busy",
            )
        ]
    )
    line = (
        "rm: cannot remove '/var/lib/kubelet/pods/5b1c7e2a-3f4d-4c1e-9a8b-2d3e4f5a6b7c/volumes/"
        "kubernetes.io~projected/kube-api-access-x7k2p': Device or resource busy"
    )
    (m,) = index.match_text(line)
    assert (m.rule_id, m.kind) == ("kubelet-mounts-left", "full")


def test_generic_symptoms_are_not_indexed() -> None:
    index = SymptomIndex([("x", "Terminating"), ("y", "cpuset")])
    assert index.symptoms == []


# -- the command ---------------------------------------------------------------------------

APPARMOR_EVENT = RESEARCH[[r[0] for r in RESEARCH].index("runtimes §4 pod event")][1]


def test_why_finds_the_cause_on_the_node(capsys: pytest.CaptureFixture[str]) -> None:
    root = ROOTS / "ubuntu-24.04-apparmor4-containerd-1.7.12" / "root"
    assert main(["why", "--root", str(root), APPARMOR_EVENT]) == 0
    out = capsys.readouterr().out
    assert "The cause on this node: apparmor-blocks-runc-signal" in out
    assert "/var/log/kern.log:6" in out


def test_why_says_when_the_rule_passes_here(capsys: pytest.CaptureFixture[str]) -> None:
    root = ROOTS / "kubeadm-healthy-v2" / "root"
    assert main(["why", "--root", str(root), "unable to signal init: permission denied"]) == 1
    out = capsys.readouterr().out
    assert "apparmor-blocks-runc-signal passes on this node" in out
    assert "nodedoctor check" in out


def test_why_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = ROOTS / "kubekey-teardown-calico" / "root"
    text = "rm: cannot remove '/run/calico/cgroup/cgroup.procs': Operation not permitted"
    assert main(["why", "--root", str(root), "--format", "json", text]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cause_found"] is True
    (match,) = data["matches"]
    assert (match["rule"], match["verdict"]) == ("foreign-cgroup-mount", "finding")
    assert data["report"]["findings"][0]["severity"] == "warning"


def test_why_unknown_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["why", "--root", str(ROOTS / "kubeadm-healthy-v2" / "root"), "hello"]) == 1
    assert "matches no symptom" in capsys.readouterr().out


def test_why_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    pasted = "\n".join(["some context", APPARMOR_EVENT, "more context"])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pasted.encode())))
    root = ROOTS / "ubuntu-24.04-apparmor4-containerd-1.7.12" / "root"
    assert main(["why", "--root", str(root)]) == 0
    assert "line 2 shows" in capsys.readouterr().out


def test_check_logs_runs_the_rules_the_log_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "kk.log"
    log.write_text(
        "10:01:02 CST [ClearOSModule] Remove cluster files\n"
        "10:01:03 CST message: [node2]\n"
        "rm: cannot remove '/run/calico/cgroup/cgroup.procs': Operation not permitted\n"
        "rm: cannot remove '/run/calico/cgroup/sys-fs-fuse-connections.mount/memory.events': "
        "Operation not permitted\n",
        encoding="utf-8",
    )
    root = ROOTS / "kubekey-teardown-calico" / "root"
    assert main(["check", "--root", str(root), "--logs", str(log), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rules = {f["rule"] for f in report["findings"]}
    assert rules == {"foreign-cgroup-mount"}  # kubelet-mounts-left is not in the log
    evidence = report["findings"][0]["evidence"]
    assert {"source": str(log), "line": 3, "text": evidence[-2]["text"]} in evidence


def test_check_logs_text_block_and_fallback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ROOTS / "kubekey-teardown-calico" / "root"
    log = tmp_path / "kern.log"
    log.write_text("none on /run/calico/cgroup type cgroup2 (rw,relatime,seclabel)\n")
    main(["check", "--root", str(root), "--logs", str(log)])
    out = capsys.readouterr().out
    assert f"symptoms found in {log}:" in out
    assert "foreign-cgroup-mount: 1 line(s), first at line 1 (cause found here)" in out
    quiet = tmp_path / "quiet.log"
    quiet.write_text("nothing to see\n")
    main(["check", "--root", str(root), "--logs", str(quiet)])
    captured = capsys.readouterr()
    assert "no known symptom" in captured.err
    assert "kubelet-mounts-left" in captured.out  # every rule ran


def _bad_case(rule_id: str) -> tuple[Path, list[str]] | None:
    """A bad case of the rule: its root and the options that name its node."""
    from tests.helpers import case_dirs, case_kubernetes_version, case_profile, case_root

    for case in case_dirs():
        if case.parent.name == rule_id and case.name.startswith("bad"):
            profile, version = case_profile(case), case_kubernetes_version(case)
            options = [*(["--profile", profile] if profile else [])]
            options += ["--kubernetes-version", version] if version else []
            return case_root(case), options
    return None


DOCUMENTED = [
    (rule.id, symptom)
    for rule in RULES
    for symptom in rule.doc.symptoms
    if any(s.text == symptom for s in INDEX.symptoms)
]


@pytest.mark.parametrize(
    ("rule_id", "symptom"), DOCUMENTED, ids=[f"{r}:{s[:40]}" for r, s in DOCUMENTED]
)
def test_every_documented_symptom_diagnoses_its_bad_case(
    rule_id: str, symptom: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pasting a rule's own symptom on a root where the rule fires names it as the cause."""
    case = _bad_case(rule_id)
    if case is None:
        pytest.skip(f"{rule_id} has no bad case yet")
    root, options = case
    args = ["why", "--root", str(root), *options, "--format", "json", "--", symptom]
    main(args)
    data = json.loads(capsys.readouterr().out)
    verdicts = {m["rule"]: m["verdict"] for m in data["matches"]}
    assert verdicts.get(rule_id) == "finding", verdicts


@pytest.mark.parametrize(
    ("rule_id", "symptom"), DOCUMENTED, ids=[f"{r}:{s[:40]}" for r, s in DOCUMENTED]
)
def test_documented_symptom_inside_a_journal_line(rule_id: str, symptom: str) -> None:
    """As the journal shows it: syslog and klog prefixes, quotes escaped by structured
    logging, the user's own pod and UID around it."""
    escaped = symptom.replace("\\", "\\\\").replace('"', '\\"')
    line = (
        "Nov 23 10:00:00 worker-3 kubelet[48211]: E1123 10:00:00.000001   48211 "
        f'pod_workers.go:1301] "Error syncing pod" err="{escaped}" '
        'pod="kube-system/web-7d9c4-x7k2p" podUID="6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c"'
    )
    assert rule_id in [m.rule_id for m in INDEX.match_text(line)]


def test_orphaned_pod_directories_are_not_orphaned_cgroups() -> None:
    """The kubelet's messages about orphaned pod *directories* (kubelet_volumes.go) are another
    problem than pod cgroups left behind."""
    for line in (
        'E1123 10:00:00.000000    1234 kubelet_volumes.go:263] "There were many similar '
        'errors. Turn up verbosity to see them." err="orphaned pod \\"6f1c2b3a-9d4e-4f5a-8b6c-'
        '7d8e9f0a1b2c\\" found, but error occurred when trying to remove the volumes dir: not '
        'a directory" numErrs=3',
        '"Orphaned pod found, but volume paths are still present on disk" numPaths=2 '
        'podUID="6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c"',
    ):
        assert "orphaned-pod-cgroups" not in [m.rule_id for m in INDEX.match_text(line)]


def test_cgroup_message_variants_across_versions() -> None:
    """The kubelet's wording moved from "doesn't exist" (<= 1.30) to the validation error
    (>= 1.31); both, and kubeadm's and k3s's messages, reach a rule."""
    for text in (
        "root container [kubepods] doesn't exist",
        'error validating root container [kubepods] : cgroup ["kubepods"] has some missing '
        "controllers: cpuset",
        "failed to find memory cgroup (v2)",
    ):
        assert INDEX.match_text(text), text


# -- look-alikes and shared messages -------------------------------------------------------

#: canonical/docker-snap#272 (Ubuntu 24.04.2, docker snap 27.5.1), as the kernel logged it.
SNAP_DENIAL = (
    "Apr 28 16:48:33 server kernel: audit: type=1400 audit(1745819313.099:2351): "
    'apparmor="DENIED" operation="signal" class="signal" profile="docker-default" pid=776652 '
    'comm="runc" requested_mask="receive" denied_mask="receive" signal=kill '
    'peer="snap.docker.dockerd"'
)
SANDBOX_EVENT = RESEARCH[[r[0] for r in RESEARCH].index("incidents §3 sandbox")][1]


def test_a_snap_docker_denial_is_not_the_containerd_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = ROOTS / "ubuntu-24.04-apparmor4-containerd-1.7.12" / "root"
    assert main(["why", "--root", str(root), SNAP_DENIAL]) == 1
    out = capsys.readouterr().out
    assert "apparmor-blocks-runc-signal is not this problem" in out
    assert "docker-snap#272" in out
    assert "A containerd upgrade does not fix it" in out
    assert "The cause on this node" not in out
    main(["why", "--root", str(root), "--format", "json", SNAP_DENIAL])
    (match,) = json.loads(capsys.readouterr().out)["matches"]
    assert match["verdict"] == "lookalike"
    assert "Docker's snap" in match["not_this_problem"]


def test_the_rules_own_denial_beside_a_snap_one_is_still_the_cause(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = ROOTS / "ubuntu-24.04-apparmor4-containerd-1.7.12" / "root"
    own = SNAP_DENIAL.replace('peer="snap.docker.dockerd"', 'peer="runc"')
    assert main(["why", "--root", str(root), "--", f"{SNAP_DENIAL}\n{own}"]) == 0
    assert "The cause on this node: apparmor-blocks-runc-signal" in capsys.readouterr().out


def test_check_logs_keeps_snap_denials_out_of_the_rules_evidence(tmp_path: Path) -> None:
    from nodedoctor.cli.why import scan_log

    own = SNAP_DENIAL.replace('peer="snap.docker.dockerd"', 'peer="runc"')
    log = tmp_path / "kern.log"
    log.write_text(f"{SNAP_DENIAL}\n{own}\n", encoding="utf-8")
    scan = scan_log(str(log), RULES)
    assert [m.line for m in scan.matches["apparmor-blocks-runc-signal"]] == [2]
    assert scan.counts["apparmor-blocks-runc-signal"] == 1


def test_a_sandbox_change_names_the_cause_this_node_shows_and_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import materialize_case

    root = materialize_case(
        Path(__file__).parent / "cases/cgroup-driver-mismatch/bad-containerd-default", tmp_path
    )
    assert main(["why", "--root", str(root), SANDBOX_EVENT]) == 0
    out = capsys.readouterr().out
    assert "this node shows: cgroup-driver-mismatch" in out
    assert "The cause on this node" not in out  # not one confident cause
    for other in ("OOM killer", "CNI plugin", "runtime restarted"):
        assert other in out
    main(["why", "--root", str(root), "--format", "json", SANDBOX_EVENT])
    (match,) = json.loads(capsys.readouterr().out)["matches"]
    assert match["verdict"] == "finding"
    assert any("no IP address" in cause for cause in match["other_causes"])


def test_a_sandbox_change_on_a_node_without_a_mismatch_points_at_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = ROOTS / "kubeadm-healthy-v2" / "root"
    assert main(["why", "--root", str(root), SANDBOX_EVENT]) == 1
    out = capsys.readouterr().out
    assert "None of the causes nodedoctor checks is present on this node" in out
    assert "OOM killer" in out


def test_why_on_a_terminal_says_what_it_waits_for(tmp_path: Path) -> None:
    """``why`` with no message reads stdin; on a terminal it says so instead of waiting
    without a word (issue 15)."""
    import os
    import pty
    import subprocess
    import sys

    root = str(ROOTS / "kubeadm-healthy-v2" / "root")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodedoctor", "why", "--root", root],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    assert proc.stderr is not None
    hint = proc.stderr.readline()  # said before it waits
    os.write(primary, b"nothing like any symptom\n")
    # The terminal goes away (the user closed it): the read ends, whatever it then says.
    os.close(primary)
    proc.communicate(timeout=60)
    assert b"paste the message, then press Ctrl-D" in hint
    assert proc.returncode in (0, 1, 2)
