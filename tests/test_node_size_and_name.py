"""resources-below-minimum and node-name-invalid beyond their cases: the role given with
``--role`` (what a node is to become before a deployer runs), the sources of the node name in
their order, malformed ``/proc`` files, and the live host."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nodedoctor import engine
from nodedoctor.cli import main
from nodedoctor.cli.common import ROLES as CLI_ROLES
from nodedoctor.facts import Facts
from nodedoctor.facts.nodename import node_name
from nodedoctor.facts.noderole import ROLES, node_role
from nodedoctor.facts.resources import node_resources
from nodedoctor.facts.system import hostname_source
from nodedoctor.model import Finding, Severity
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import directory_root, live_root
from tests.helpers import CASES, ROOTS, materialize_case

PI3_CASE = CASES / "resources-below-minimum/bad-kubespray-1gb-before-install"
ONE_CPU_CASE = CASES / "resources-below-minimum/bad-kubeadm-1-cpu"
K3S_AGENT_CASE = CASES / "node-name-invalid/bad-k3s-agent-node-name-env"


def _findings(
    root: Path, rule: str, profile: str | None = None, role: str | None = None
) -> list[Finding]:
    facts = Facts(directory_root(str(root)), profile=profile, role=role)
    report = engine.run(facts, engine.select_rules(all_rules(), only=(rule,)))
    assert not [f for f in report.findings if f.rule == "internal-error"], report.findings
    return [f for f in report.findings if f.rule == rule]


def test_the_cli_offers_every_role() -> None:
    assert CLI_ROLES == ROLES


# -- resources-below-minimum ----------------------------------------------------------------


def test_a_declared_control_plane_below_kubeadms_minimums_is_an_error(tmp_path: Path) -> None:
    root = materialize_case(ONE_CPU_CASE, tmp_path)
    (root / "proc/meminfo").write_text((PI3_CASE / "root/proc/meminfo").read_text())
    found = _findings(root, "resources-below-minimum", "kubeadm", "control-plane")
    assert {f.severity for f in found} == {Severity.ERROR}
    text = " ".join(f.message for f in found)
    assert "[ERROR NumCPU]: the number of available CPUs 1 is less than the required 2" in text
    assert "[ERROR Mem]: the system RAM (926 MB) is less than the minimum 1700 MB" in text
    assert all("--role control-plane" in [e.text for e in f.evidence] for f in found)
    assert all(f.fix is not None and "ignore-preflight-errors" in f.fix.summary for f in found)


def test_a_kubeadm_worker_is_not_checked(tmp_path: Path) -> None:
    root = materialize_case(ONE_CPU_CASE, tmp_path)
    (root / "proc/meminfo").write_text((PI3_CASE / "root/proc/meminfo").read_text())
    assert _findings(root, "resources-below-minimum", "kubeadm", "worker") == []


def test_a_kubespray_worker_below_minimal_node_memory_is_an_error(tmp_path: Path) -> None:
    root = materialize_case(PI3_CASE, tmp_path)
    (found,) = _findings(root, "resources-below-minimum", "kubespray", "worker")
    assert found.severity is Severity.ERROR
    assert "minimal_node_memory_mb" in found.message
    assert "kubeadm" not in found.message  # a worker is held to Kubespray's node minimum only


def test_a_control_plane_kubeadm_set_up_is_info(tmp_path: Path) -> None:
    """The apiserver's static pod says control plane; it was installed past the check."""
    root = materialize_case(ONE_CPU_CASE, tmp_path)
    manifests = root / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (manifests / "kube-apiserver.yaml").write_text("apiVersion: v1\nkind: Pod\n")
    facts = Facts(directory_root(str(root)), profile="kubeadm")
    assert facts.get(node_role).role == "control-plane"
    (found,) = _findings(root, "resources-below-minimum", "kubeadm")
    assert found.severity is Severity.INFO
    assert "was set up although" in found.message


def test_k3s_documented_minimums_depend_on_the_unit(tmp_path: Path) -> None:
    """A 1 GB Raspberry Pi is a fine k3s agent; as a server it is below the documented 2 GB,
    which k3s does not enforce (info)."""
    root = materialize_case(CASES / "resources-below-minimum/good-k3s-agent-pi3-1gb", tmp_path)
    assert Facts(directory_root(str(root))).get(node_role).role == "worker"
    assert _findings(root, "resources-below-minimum") == []
    (found,) = _findings(root, "resources-below-minimum", role="control-plane")
    assert found.severity is Severity.INFO
    assert "2 GB" in found.title


def test_no_deployer_no_minimum(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(ROOTS / "rocky9-rpi4-before-kubespray/root", root, symlinks=True)
    (root / "proc/meminfo").write_text((PI3_CASE / "root/proc/meminfo").read_text())
    facts = Facts(directory_root(str(root)))
    report = engine.run(facts, engine.select_rules(all_rules(), only=("resources-below-minimum",)))
    assert [s.reason for s in report.skipped if s.rule == "resources-below-minimum"] == [
        "the deployer is not known (give --profile: kubeadm, kubespray, k3s ...); the minimums "
        "are the deployer's"
    ]


@pytest.mark.parametrize(
    ("path", "text", "problem"),
    [
        ("sys/devices/system/cpu/online", "0-3,x\n", "not a CPU list"),
        ("proc/meminfo", "MemTotal:  lots\n", 'expected "Name: number [kB]"'),
    ],
)
def test_malformed_files_are_parse_errors(
    tmp_path: Path, path: str, text: str, problem: str
) -> None:
    root = materialize_case(ONE_CPU_CASE, tmp_path)
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)
    facts = Facts(directory_root(str(root)), profile="kubeadm")
    report = engine.run(facts, engine.select_rules(all_rules()))
    errors = [f for f in report.findings if f.rule == "parse-error"]
    assert [(e.source, e.line) for f in errors for e in f.evidence] == [(f"/{path}", 1)]
    assert problem in errors[0].message
    assert not [f for f in report.findings if f.rule == "internal-error"]


def test_cpuinfo_counts_when_the_online_list_is_missing(tmp_path: Path) -> None:
    root = materialize_case(ONE_CPU_CASE, tmp_path)
    (root / "sys/devices/system/cpu/online").unlink()
    (root / "proc/cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n\n"
        "processor\t: 1\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n"
    )
    cpus = Facts(directory_root(str(root))).get(node_resources).cpus
    assert cpus is not None
    assert (cpus.value, cpus.evidence.source) == (2, "/proc/cpuinfo")


def test_live_resources_are_the_kernels() -> None:
    facts = Facts(live_root())
    resources = facts.get(node_resources)
    assert resources.cpus is not None
    assert resources.memory_mib is not None
    # os.cpu_count() is sysconf(_SC_NPROCESSORS_ONLN); _SC_PHYS_PAGES is sysinfo's totalram,
    # what kubeadm's Mem check reads.
    assert resources.cpus.value == os.cpu_count()
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert resources.memory_mib.value == total // 1024 // 1024


# -- node-name-invalid ------------------------------------------------------------------------


def test_live_hostname_is_the_kernels() -> None:
    named = Facts(live_root()).get(hostname_source)
    assert named is not None
    assert named.value == os.uname().nodename
    assert named.evidence.source == "/proc/sys/kernel/hostname"


def test_hostname_override_wins_over_the_hostname(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(ROOTS / "kubeadm-healthy-v2/root", root, symlinks=True)
    (root / "etc/hostname").write_text("VM_0_10_centos\n")
    flags = root / "var/lib/kubelet/kubeadm-flags.env"
    flags.write_text(flags.read_text().replace('="', '="--hostname-override=worker-10 ', 1))
    named = Facts(directory_root(str(root))).get(node_name)
    assert (named.name, named.origin) == ("worker-10", "--hostname-override")
    assert named.evidence[0].source == "/var/lib/kubelet/kubeadm-flags.env"
    assert _findings(root, "node-name-invalid") == []


def test_k3s_config_node_name_wins_over_the_environment(tmp_path: Path) -> None:
    root = materialize_case(K3S_AGENT_CASE, tmp_path)
    config = root / "etc/rancher/k3s/config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("node-name: rpi-node2\n")
    named = Facts(directory_root(str(root))).get(node_name)
    assert (named.name, named.evidence[0].source) == ("rpi-node2", "/etc/rancher/k3s/config.yaml")
    assert _findings(root, "node-name-invalid") == []


def test_check_takes_role(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = materialize_case(PI3_CASE, tmp_path)
    code = main(
        [
            "check",
            "--root",
            str(root),
            "--profile",
            "kubespray",
            "--role",
            "worker",
            "--only",
            "resources-below-minimum",
            "--format",
            "json",
        ]
    )
    assert code == 1
    assert '"severity": "error"' in capsys.readouterr().out
