"""Kernel and boot inputs from real nodes: kernel configs, cmdline files, GRUB defaults,
mountinfo of v1/hybrid/v2 hosts and /proc/cgroups of Raspberry Pis (tests/parsers/data/)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts, controller_analysis
from nodedoctor.facts.kernelconfig import kernel_config
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.cmdline import (
    kernel_params,
    parse_cmdline,
    parse_cmdline_file,
    parse_default_grub,
)
from nodedoctor.parsers.kconfig import parse_kconfig
from nodedoctor.parsers.mountinfo import parse_mountinfo
from nodedoctor.parsers.proc_cgroups import parse_proc_cgroups
from nodedoctor.sources.root import directory_root
from tests.helpers import case_root

DATA = Path(__file__).parent / "data"


def _text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# -- kernel config ------------------------------------------------------------------------


def test_kconfig_of_the_committed_fixture() -> None:
    raw = case_root("cgroup-controller-disabled/bad-v1-kernel-without-memcg-v1") / "proc/config.gz"
    cfg = parse_kconfig(gzip.decompress(raw.read_bytes()).decode())
    assert cfg.enabled("CONFIG_MEMCG") is True
    assert cfg.enabled("CONFIG_MEMCG_V1") is False
    assert cfg.options["CONFIG_MEMCG_V1"].text == "# CONFIG_MEMCG_V1 is not set"
    assert cfg.enabled("CONFIG_CPUSETS") is True
    assert cfg.enabled("CONFIG_CGROUP_PIDS") is True
    assert cfg.header is not None
    assert cfg.header.startswith("Linux/")
    assert len(cfg.options) > 1000


@pytest.mark.skipif(not Path("/proc/config.gz").exists(), reason="no /proc/config.gz here")
def test_kconfig_of_this_machine_parses() -> None:
    cfg = parse_kconfig(gzip.decompress(Path("/proc/config.gz").read_bytes()).decode())
    assert cfg.enabled("CONFIG_CGROUPS") is True


def test_kconfig_rejects_garbage_with_its_line() -> None:
    with pytest.raises(ParseError) as err:
        parse_kconfig("CONFIG_A=y\nthis is not kconfig\n")
    assert err.value.line == 2


def test_kconfig_string_values_are_unquoted() -> None:
    cfg = parse_kconfig('CONFIG_DEFAULT_HOSTNAME="(none)"\nCONFIG_NR_CPUS=256\n')
    assert cfg.options["CONFIG_DEFAULT_HOSTNAME"].value == "(none)"
    assert cfg.options["CONFIG_NR_CPUS"].value == "256"
    assert cfg.enabled("CONFIG_NR_CPUS") is False


def test_kernel_config_facts_read_the_gzip(tmp_path: Path) -> None:
    src = case_root("cgroup-controller-disabled/bad-v1-kernel-without-memcg-v1")
    facts = Facts(directory_root(str(src)))
    kc = facts.get(kernel_config)
    assert kc.source == "/proc/config.gz"
    assert kc.missing_options("memory", v1=True) == ["CONFIG_MEMCG_V1"]
    assert kc.missing_options("memory", v1=False) == []
    # /boot/config-<release> when there is no /proc/config.gz
    root = tmp_path / "root"
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "boot").mkdir()
    (root / "proc/sys/kernel/osrelease").write_text("6.1.0-28-amd64\n")
    (root / "boot/config-6.1.0-28-amd64").write_text(
        "CONFIG_MEMCG=y\n# CONFIG_CPUSETS is not set\n"
    )
    kc2 = Facts(directory_root(str(root))).get(kernel_config)
    assert kc2.source == "/boot/config-6.1.0-28-amd64"
    assert kc2.missing_options("cpuset", v1=False) == ["CONFIG_CPUSETS"]


def test_a_broken_config_gz_is_a_parse_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/config.gz").write_bytes(b"\x1f\x8b not really gzip")
    facts = Facts(directory_root(str(tmp_path)))
    assert facts.get(kernel_config).config is None
    assert facts.parse_failed("/proc/config.gz")


# -- command lines -----------------------------------------------------------------------


def test_proc_cmdline_stops_at_the_init_separator() -> None:
    text = "console=ttyS0 quiet panic=1 rdinit=/init -- --init-flag --addr 0.0.0.0:2024"
    assert [p.text for p in kernel_params(parse_cmdline(text))][-1] == "rdinit=/init"


def test_cmdline_txt_of_pi_os_bookworm() -> None:
    (line,) = parse_cmdline_file(_text("cmdline-pios-bookworm-5933.txt"))
    keys = [p.key for p in line.params]
    assert keys[-3:] == ["cgroup_enable", "cgroup_memory", "cgroup_enable"]
    assert line.params[0].value == "serial0,115200"


def test_cmdline_txt_of_ubuntu_for_pi() -> None:
    (line,) = parse_cmdline_file(_text("cmdline-ubuntu-2004-kubeasy.txt"))
    assert "cgroup_enable=memory" in [p.text for p in line.params]


def test_cmdline_txt_stub_after_automation_keeps_line_numbers() -> None:
    lines = parse_cmdline_file(_text("cmdline-stub-edited.txt"))
    assert [ln.line for ln in lines] == [1, 3]
    assert lines[1].params[-1].text == "cgroup_enable=memory"


def test_cmdline_file_with_unbalanced_quote_names_the_line() -> None:
    with pytest.raises(ParseError) as err:
        parse_cmdline_file('root=/dev/sda1\nquiet "oops\n')
    assert err.value.line == 2


def test_grub_defaults_debian_and_appends() -> None:
    debian = (
        "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n"
        "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n'
        'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX cgroup_enable=memory swapaccount=1"\n'
    )
    g = parse_default_grub(debian)
    assert g.variables["GRUB_CMDLINE_LINUX_DEFAULT"][0] == "quiet"
    value, line, _ = g.variables["GRUB_CMDLINE_LINUX"]
    assert (value, line) == ("cgroup_enable=memory swapaccount=1", 6)
    with pytest.raises(ParseError):
        parse_default_grub('GRUB_CMDLINE_LINUX="unterminated\n')


# -- mountinfo and /proc/cgroups of real hosts -------------------------------------------


def _root_with(tmp_path: Path, files: dict[str, str]) -> Facts:
    for rel, name in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / name, target)
    return Facts(directory_root(str(tmp_path)))


@pytest.mark.parametrize(
    ("name", "mode", "has_memory"),
    [
        ("mountinfo-centos7-v1.txt", CgroupMode.V1, True),
        ("mountinfo-hybrid-ci-machine.txt", CgroupMode.HYBRID, True),
        ("mountinfo-ubuntu-v2.txt", CgroupMode.V2, False),
    ],
)
def test_cgroup_mode_from_real_mountinfo(
    tmp_path: Path, name: str, mode: CgroupMode, has_memory: bool
) -> None:
    parse_mountinfo(_text(name))  # parses cleanly
    cg = _root_with(tmp_path, {"proc/self/mountinfo": name}).get(cgroup_facts)
    assert cg.mode is mode
    assert ("memory" in cg.v1_mounts) is has_memory
    if mode is CgroupMode.V1:
        # cpu and cpuacct share one hierarchy on CentOS 7
        assert cg.v1_mounts["cpu"].mount_point == "/sys/fs/cgroup/cpu,cpuacct"
        assert cg.v1_mounts["cpuacct"] == cg.v1_mounts["cpu"]


def test_proc_cgroups_of_a_pi_with_memory_disabled(tmp_path: Path) -> None:
    rows = {r.name: r for r in parse_proc_cgroups(_text("proc-cgroups-rpi5-memory-disabled.txt"))}
    assert rows["memory"].enabled is False
    assert rows["cpuset"].enabled is True
    assert rows["memory"].line == 6


def test_the_6_12_trap_v2_trusts_only_cgroup_controllers(tmp_path: Path) -> None:
    facts = _root_with(
        tmp_path,
        {
            "proc/self/mountinfo": "mountinfo-ubuntu-v2.txt",
            "proc/cgroups": "proc-cgroups-rpi5-6.12-no-memory-row.txt",
        },
    )
    (tmp_path / "sys/fs/cgroup").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    an = facts.get(controller_analysis)
    assert an.known
    assert an.missing() == []
    assert an.statuses["memory"].available


def test_v1_without_a_memory_row_is_a_kernel_without_it(tmp_path: Path) -> None:
    facts = _root_with(
        tmp_path,
        {
            "proc/self/mountinfo": "mountinfo-centos7-v1.txt",
            "proc/cgroups": "proc-cgroups-rpi5-6.12-no-memory-row.txt",
        },
    )
    an = facts.get(controller_analysis)
    missing = {s.name: s for s in an.missing()}
    assert "memory" in missing
    assert "no memory row" in " ".join(e.text for e in missing["memory"].evidence)
    # pids is enabled in /proc/cgroups; CentOS 7.2's sample mounts no pids hierarchy, which
    # the v1 kubelet tolerates (it validates only mounted controllers besides cpu, cpuacct,
    # cpuset and memory)
    assert "pids" not in missing
    assert an.statuses["pids"].available


def test_v1_controller_enabled_but_not_mounted(tmp_path: Path) -> None:
    facts = _root_with(
        tmp_path,
        {
            "proc/self/mountinfo": "mountinfo-centos7-v1.txt",
            "proc/cgroups": "proc-cgroups-rpi5-memory-disabled.txt",
        },
    )
    missing = {s.name: s for s in facts.get(controller_analysis).missing()}
    # cpuset is enabled but CentOS 7.2's sample (cut after memory) mounts no cpuset hierarchy
    assert missing["cpuset"].cause is not None
    assert missing["cpuset"].cause.value == "not-mounted"
    assert missing["memory"].cause is not None
    assert missing["memory"].cause.value == "unknown"  # no /proc/cmdline, not a Pi
