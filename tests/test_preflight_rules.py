"""The facts behind kernel-config-missing, kubernetes-port-in-use, required-command-missing and
cri-socket-not-answering, where the rule cases (tests/cases) cannot reach: bounds, versions,
live sockets (a real containerd, real listeners inside network namespaces of the test's own)."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.facts.commands import find_program, iptables_backend, node_programs
from nodedoctor.facts.crisocket import (
    ABSENT,
    ANSWERS,
    NOT_A_SOCKET,
    REFUSED,
    SILENT,
    cri_socket,
    probe_socket,
)
from nodedoctor.facts.kernelconfig import kernel_config, kernel_modules
from nodedoctor.facts.kubeproxy import kube_proxy_mode
from nodedoctor.facts.ports import kubernetes_ports
from nodedoctor.facts.versions import Version
from nodedoctor.model import Report, Severity
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.proc_net import parse_proc_net_tcp
from nodedoctor.rules import all_rules
from nodedoctor.rules.required_command_missing import _kubeadm_needs
from nodedoctor.sources.root import Root, directory_root
from tests import realcontainerd
from tests.helpers import case_root

DEBIAN_CLOUD = case_root("kernel-config-missing/good-debian12-cloud-kernel-kubeadm")
RELEASE = "6.1.0-47-cloud-amd64"

#: The first lines of raspberrypi/linux arch/arm64/configs/bcm2711_defconfig (commit
#: 007cc4bcbb8e), verbatim: a defconfig names only what differs from the defaults.
BCM2711_DEFCONFIG_HEAD = """CONFIG_LOCALVERSION="-v8"
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_SYSVIPC=y
CONFIG_POSIX_MQUEUE=y
CONFIG_GENERIC_IRQ_DEBUGFS=y
CONFIG_NO_HZ=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_PREEMPT=y
CONFIG_BSD_PROCESS_ACCT=y
CONFIG_BSD_PROCESS_ACCT_V3=y
CONFIG_TASK_XACCT=y
CONFIG_TASK_IO_ACCOUNTING=y
CONFIG_IKCONFIG=m
CONFIG_IKCONFIG_PROC=y
CONFIG_MEMCG=y
CONFIG_BLK_CGROUP=y
CONFIG_CGROUP_PIDS=y
CONFIG_CGROUP_FREEZER=y
CONFIG_CPUSETS=y
CONFIG_CGROUP_DEVICE=y
CONFIG_CGROUP_CPUACCT=y
CONFIG_CGROUP_BPF=y
CONFIG_NAMESPACES=y
CONFIG_USER_NS=y
"""


def _check(root: Root, *only: str, profile: str | None = None) -> Report:
    facts = Facts(root, profile=profile)
    return engine.run(facts, engine.select_rules(all_rules(), only=only))


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


# -- kernel configuration ------------------------------------------------------------------


def test_a_defconfig_only_counts_what_it_turns_off(tmp_path: Path) -> None:
    root = _copy(DEBIAN_CLOUD, tmp_path / "root")
    (root / f"boot/config-{RELEASE}").write_text(BCM2711_DEFCONFIG_HEAD, encoding="utf-8")
    facts = Facts(directory_root(str(root)), profile="kubeadm")
    config = facts.get(kernel_config)
    assert config.config is not None
    assert not config.config.complete
    assert config.value("CONFIG_BRIDGE_NETFILTER") is None  # not named: its default (m) holds
    assert config.value("CONFIG_LOCALVERSION_AUTO") == "n"
    report = _check(directory_root(str(root)), "kernel-config-missing", profile="kubeadm")
    assert report.findings == ()


def test_a_complete_config_that_does_not_name_an_option_lacks_it(tmp_path: Path) -> None:
    root = _copy(DEBIAN_CLOUD, tmp_path / "root")
    path = root / f"boot/config-{RELEASE}"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("CONFIG_VXLAN=m\n", ""), encoding="utf-8")
    report = _check(directory_root(str(root)), "kernel-config-missing", profile="k3s")
    (finding,) = report.findings
    assert finding.severity is Severity.ERROR  # k3s's flannel needs VXLAN
    assert "CONFIG_VXLAN is not set (the configuration does not name it)" in [
        e.text for e in finding.evidence
    ]


def test_another_kernels_config_is_not_used(tmp_path: Path) -> None:
    root = _copy(DEBIAN_CLOUD, tmp_path / "root")
    (root / "proc/sys/kernel/osrelease").write_text("5.14.0-503.14.1.el9_5.x86_64\n")
    (root / "boot/config-5.14.0-503.14.1.el9_5.x86_64").symlink_to(f"config-{RELEASE}")
    report = _check(directory_root(str(root)), "kernel-config-missing")
    (skipped,) = report.skipped
    assert "configuration of Linux 6.1.170, not of the running kernel 5.14.0" in skipped.reason


def test_a_gzip_bomb_in_proc_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/config.gz").write_bytes(gzip.compress(b"# x\n" * (2 * 1024 * 1024)))
    facts = Facts(directory_root(str(tmp_path)))
    assert facts.get(kernel_config).config is None
    assert [p.message for p in facts.parse_problems] == ["inflates to more than 4 MiB"]


def test_modules_dep_of_the_package_lists_its_modules() -> None:
    facts = Facts(directory_root(str(DEBIAN_CLOUD)))
    modules = facts.get(kernel_modules)
    assert modules.source == f"/lib/modules/{RELEASE}/modules.dep"
    assert modules.has("br_netfilter")
    assert modules.has("overlay")
    assert modules.has("ip_vs_rr")
    assert modules.has("no_such_module") is False


def test_a_malformed_modules_dep_is_a_parse_error(tmp_path: Path) -> None:
    root = _copy(DEBIAN_CLOUD, tmp_path / "root")
    (root / f"lib/modules/{RELEASE}/modules.dep").write_text("kernel/x.ko: \nnot a line\n")
    report = _check(directory_root(str(root)), "kernel-config-missing", "parse-error")
    assert [(f.rule, f.evidence[0].line) for f in report.findings] == [("parse-error", 2)]


@pytest.mark.parametrize(
    ("path", "text", "mode"),
    [
        ("etc/rancher/k3s/config.yaml", "kube-proxy-arg:\n  - proxy-mode=ipvs\n", "ipvs"),
        ("etc/rancher/k3s/config.yaml", "kube-proxy-arg: proxy-mode=nftables\n", "nftables"),
        ("var/snap/microk8s/current/args/kube-proxy", "--proxy-mode=ipvs\n", "ipvs"),
        (
            "etc/kubernetes/kubeadm-config.yaml",
            "kind: KubeProxyConfiguration\nmode: ''\n",
            "iptables",
        ),
        ("etc/rancher/k3s/config.yaml", "write-kubeconfig-mode: '0644'\n", None),
    ],
)
def test_kube_proxy_mode_from_the_nodes_files(
    tmp_path: Path, path: str, text: str, mode: str | None
) -> None:
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(text, encoding="utf-8")
    assert Facts(directory_root(str(tmp_path))).get(kube_proxy_mode).mode == mode


# -- ports ---------------------------------------------------------------------------------


def _tcp_line(n: int, port: int, state: str, inode: int) -> str:
    return (
        f"{n:4d}: 00000000:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 "
        f"00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
    )


HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"


def test_a_huge_tcp_table_keeps_the_listeners_that_come_first(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    lines = [HEADER, _tcp_line(0, 10250, "0A", 4242)]
    lines += [_tcp_line(i, 40000 + i % 20000, "01", 5000 + i) for i in range(1, 40000)]
    (tmp_path / "proc/net/tcp").write_text("".join(lines))
    ports = Facts(directory_root(str(tmp_path))).get(kubernetes_ports)
    assert ports.listeners is not None
    assert [(x.port, x.owner, x.owner_unknown) for x in ports.listeners] == [
        (10250, None, "this root does not show the processes' open files (/proc/<pid>/fd)")
    ]
    report = _check(directory_root(str(tmp_path)), "kubernetes-port-in-use")
    assert report.findings == ()
    assert "port 10250" in report.skipped[0].reason


def test_a_tcp_table_of_only_listeners_cut_short_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    lines = [HEADER] + [_tcp_line(i, 1000 + i, "0A", 9000 + i) for i in range(40000)]
    (tmp_path / "proc/net/tcp").write_text("".join(lines))
    ports = Facts(directory_root(str(tmp_path))).get(kubernetes_ports)
    assert ports.listeners is None
    assert "more listening sockets" in (ports.unknown or "")


def test_a_malformed_tcp_table_names_its_line() -> None:
    with pytest.raises(ParseError) as err:
        parse_proc_net_tcp(HEADER + _tcp_line(0, 10250, "0A", 1) + "   1: zz:zz\n")
    assert err.value.line == 3


_LISTEN = (
    "import socket,sys,time\ns=socket.socket(socket.AF_INET6)\ns.bind(('::',int(sys.argv[1])))\n"
)
_LISTEN += "s.listen()\nprint('ready',flush=True)\ntime.sleep(60)\n"


@pytest.mark.root
def test_live_a_listener_in_a_network_namespace_of_our_own() -> None:
    """A real listener on 10250 inside ``unshare --net``; nodedoctor, live in the same namespace,
    names its owner (the host's network is never touched)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    program = (
        f'{sys.executable} -c "$LISTEN" 10250 & pid=$!; sleep 1; '
        f"{sys.executable} -m nodedoctor check --only kubernetes-port-in-use --format json; "
        "kill $pid"
    )
    env = {**os.environ, "LISTEN": _LISTEN, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", program],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    out = proc.stdout[proc.stdout.index("{") :]
    import json

    (finding,) = json.loads(out)["findings"]
    assert finding["rule"] == "kubernetes-port-in-use"
    assert "port 10250" in finding["title"]
    assert "python" in finding["title"]


# -- programs ------------------------------------------------------------------------------


def test_a_tree_of_files_does_not_say_programs_are_missing() -> None:
    facts = Facts(directory_root(str(DEBIAN_CLOUD)), profile="kubeadm")
    programs = facts.get(node_programs)
    assert not programs.complete
    assert "no sh, ls, cat" in (programs.incomplete_reason or "")
    report = _check(
        directory_root(str(DEBIAN_CLOUD)), "required-command-missing", profile="kubeadm"
    )
    assert report.findings == ()
    assert report.skipped


def test_a_dangling_alternatives_link_is_a_missing_program(tmp_path: Path) -> None:
    base = case_root("required-command-missing/bad-kubekey-node-without-conntrack-socat")
    root = _copy(base, tmp_path / "root")
    (root / "etc/alternatives/iptables").unlink()
    (root / "etc/alternatives/iptables").symlink_to("/usr/sbin/iptables-gone")
    facts = Facts(directory_root(str(root)))
    assert find_program(facts, "iptables") is None
    assert facts.get(iptables_backend) is None
    (root / "etc/alternatives/iptables").unlink()
    (root / "etc/alternatives/iptables").symlink_to("/usr/sbin/iptables-legacy")
    backend = Facts(directory_root(str(root))).get(iptables_backend)
    assert backend is not None
    assert backend.backend == "legacy"


@pytest.mark.parametrize(
    ("version", "errors", "warnings"),
    [
        (
            "1.30.14",
            {"crictl", "conntrack", "ip", "iptables", "mount", "nsenter"},
            {"ethtool", "tc", "touch"},
        ),
        (
            "1.31.6",
            {"conntrack", "ip", "iptables", "mount", "nsenter"},
            {"crictl", "ethtool", "tc", "touch"},
        ),
        ("1.32.3", {"ip", "iptables", "mount", "nsenter"}, {"ethtool", "tc", "touch"}),
        ("1.33.5", {"mount", "losetup", "cp"}, {"iptables"}),
        (None, {"mount", "losetup", "cp"}, {"iptables"}),
    ],
)
def test_kubeadms_lookups_by_version(
    version: str | None, errors: set[str], warnings: set[str]
) -> None:
    needs = list(_kubeadm_needs(Version.parse(version) if version else None))
    assert {n.program for n in needs if n.severity is Severity.ERROR} == errors
    assert {n.program for n in needs if n.severity is Severity.WARNING} == warnings


# -- the CRI socket ------------------------------------------------------------------------


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: unix socket paths are limited to 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="nd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_probe_states(short_dir: Path) -> None:
    assert probe_socket(str(short_dir / "none.sock"))[0] == ABSENT
    (short_dir / "file.sock").write_text("")
    assert probe_socket(str(short_dir / "file.sock"))[0] == NOT_A_SOCKET
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(short_dir / "stale.sock"))
    stale.close()  # the file stays, nothing listens
    assert probe_socket(str(short_dir / "stale.sock"))[0] == REFUSED
    quiet = socket.socket(socket.AF_UNIX)
    quiet.bind(str(short_dir / "quiet.sock"))
    quiet.listen()
    try:
        assert probe_socket(str(short_dir / "quiet.sock"), timeout=0.2)[0] == SILENT
    finally:
        quiet.close()


def _live_node(short_dir: Path) -> Root:
    """A live root (as on the node itself) made of the kubeadm worker's files."""
    _copy(
        case_root("cri-socket-not-answering/bad-containerd-stopped-under-a-running-kubelet"),
        short_dir / "n",
    )
    (short_dir / "n/var/run/containerd").mkdir(parents=True)
    return Root(str(short_dir / "n"), live=True)


def test_live_a_kubelets_socket_left_by_a_stopped_runtime(short_dir: Path) -> None:
    root = _live_node(short_dir)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(root.resolve("/var/run/containerd/containerd.sock"))
    stale.close()
    report = _check(root, "cri-socket-not-answering")
    (finding,) = report.findings
    assert finding.severity is Severity.ERROR
    assert "refuses connections" in finding.message
    assert "the kubelet" in finding.message


def test_live_no_runtime_before_kubeadm(short_dir: Path) -> None:
    root = Root(str(short_dir), live=True)
    facts = Facts(root, profile="kubeadm")
    sock = facts.get(cri_socket)
    assert sock.origin == "kubeadm"
    assert sock.probed is not None
    assert [p.state for p in sock.probed] == [ABSENT]
    (finding,) = _check(root, "cri-socket-not-answering", profile="kubeadm").findings
    assert "kubeadm init and join" in finding.message
    assert _check(root, "cri-socket-not-answering", profile="kubespray").findings == ()


@pytest.mark.slow
@pytest.mark.root
@realcontainerd.requires_daemon
def test_live_a_real_containerd_answers(short_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(realcontainerd.config_default(), encoding="utf-8")
    with realcontainerd.RealContainerd(config, tmp_path / "run") as ctd:
        assert ctd.address is not None
        assert probe_socket(str(ctd.address))[0] == ANSWERS
        root = _live_node(short_dir)
        os.link(ctd.address, root.resolve("/var/run/containerd/containerd.sock"))
        assert _check(root, "cri-socket-not-answering").findings == ()
    # Stopped: the link is left, nothing listens behind it.
    assert _check(root, "cri-socket-not-answering").findings[0].severity is Severity.ERROR
