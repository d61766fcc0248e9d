"""CRI-O drop-ins and monitor cgroup rules; Docker's daemon.json and default driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.facts import Facts
from nodedoctor.facts.crio import crio_facts
from nodedoctor.facts.docker import docker_facts
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.docker import parse_daemon_json
from nodedoctor.sources.root import directory_root


def _root(tmp_path: Path, files: dict[str, str]) -> Facts:
    root = tmp_path / "root"
    for rel, text in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return Facts(directory_root(str(root)))


def _dpkg(pkg: str, version: str) -> str:
    return f"Package: {pkg}\nStatus: install ok installed\nVersion: {version}\n"


def test_crio_dropins_in_lexical_order_last_wins(tmp_path: Path) -> None:
    facts = _root(
        tmp_path,
        {
            "/etc/crio/crio.conf": '[crio.runtime]\ncgroup_manager = "cgroupfs"\n',
            "/etc/crio/crio.conf.d/20-b.conf": '[crio.runtime]\ncgroup_manager = "systemd"\n',
            "/etc/crio/crio.conf.d/10-a.conf": '[crio.runtime]\ncgroup_manager = "cgroupfs"\n',
        },
    )
    c = facts.get(crio_facts)
    assert c.cgroup_manager is not None
    assert c.cgroup_manager.value == "systemd"
    assert c.cgroup_manager.evidence.source == "/etc/crio/crio.conf.d/20-b.conf"
    assert c.cgroup_manager.evidence.line == 2


def test_crio_default_manager_is_systemd(tmp_path: Path) -> None:
    facts = _root(tmp_path, {"/etc/crio/crio.conf.d/10-crio.conf": "[crio.image]\n"})
    c = facts.get(crio_facts)
    assert c.cgroup_manager is not None
    assert c.cgroup_manager.value == "systemd"
    assert c.cgroup_manager.evidence.line is None


@pytest.mark.parametrize(
    ("manager", "conmon", "version", "bad"),
    [
        ("cgroupfs", "system.slice", "1.32.0", True),
        ("cgroupfs", "system.slice", "1.33.0", False),  # cleared by CRI-O itself
        ("cgroupfs", "pod", "1.30.0", False),
        ("cgroupfs", "", "1.30.0", False),
        ("systemd", "system.slice", "1.30.0", False),
        ("systemd", "pod", "1.30.0", False),
        ("systemd", "conmon", "1.30.0", True),
        ("cgroupfs", "machine.slice", "1.33.0", True),
    ],
)
def test_conmon_cgroup_rules(
    tmp_path: Path, manager: str, conmon: str, version: str, bad: bool
) -> None:
    facts = _root(
        tmp_path,
        {
            "/etc/crio/crio.conf.d/10.conf": f'[crio.runtime]\ncgroup_manager = "{manager}"\n'
            f'conmon_cgroup = "{conmon}"\n',
            "/var/lib/dpkg/status": _dpkg("cri-o", version),
        },
    )
    assert bool(facts.get(crio_facts).problems) is bad


def test_monitor_cgroup_per_handler(tmp_path: Path) -> None:
    facts = _root(
        tmp_path,
        {
            "/etc/crio/crio.conf.d/10.conf": '[crio.runtime]\ncgroup_manager = "cgroupfs"\n'
            '[crio.runtime.runtimes.crun]\nmonitor_cgroup = "system.slice"\n',
            "/var/lib/dpkg/status": _dpkg("cri-o", "1.31.1"),
        },
    )
    [problem] = facts.get(crio_facts).problems
    assert problem.handler == "crun"
    assert problem.evidence.line == 4


def test_daemon_json_parse_error_has_line() -> None:
    with pytest.raises(ParseError) as err:
        parse_daemon_json('{\n  "exec-opts": ["native.cgroupdriver=systemd"],\n}\n')
    assert err.value.line == 3


@pytest.mark.parametrize(
    ("files", "driver"),
    [
        (
            {"/etc/docker/daemon.json": '{"exec-opts": ["native.cgroupdriver=cgroupfs"]}'},
            "cgroupfs",
        ),
        ({"/sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n"}, None),
    ],
)
def test_docker_driver(tmp_path: Path, files: dict[str, str], driver: str | None) -> None:
    files = {**files, "/var/lib/dpkg/status": _dpkg("docker-ce", "5:27.3.1-1~ubuntu.24.04~noble")}
    d = _root(tmp_path, files).get(docker_facts)
    assert (d.cgroup_driver.value if d.cgroup_driver else None) == driver
    if driver is None:
        assert d.unknown  # no mount table: the cgroup mode (and the init system) is unknown
