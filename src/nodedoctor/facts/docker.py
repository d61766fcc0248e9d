"""Docker Engine's cgroup driver (for cri-dockerd, which follows it): ``exec-opts``
``native.cgroupdriver`` in ``/etc/docker/daemon.json``, else Docker's default: cgroupfs on
cgroup v1 (and hybrid) hosts, systemd on cgroup v2 hosts that run systemd (docker/cli
docs/reference/dockerd.md; research runtimes.md §3). Live, ``docker info`` tells the truth.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.packages import packages
from nodedoctor.facts.system import init_system
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers.docker import parse_daemon_json

DAEMON_JSON = "/etc/docker/daemon.json"
CRI_DOCKERD_SOCKET = "unix:///run/cri-dockerd.sock"


@record
class DockerFacts:
    present: bool
    version: Sourced[Version] | None
    cri_dockerd: Sourced[Version] | None
    cgroup_driver: Sourced[str] | None
    unknown: str | None = None

    @property
    def implements_runtime_config(self) -> bool | None:
        """cri-dockerd reports Docker's driver via RuntimeConfig since v0.3.17 (core/
        docker_service.go, d3c4a89f "backport release/0.3 (#425)"; also in v0.4.0)."""
        return None if self.cri_dockerd is None else self.cri_dockerd.value >= (0, 3, 17)


def docker_facts(facts: Facts) -> DockerFacts:
    pk = facts.get(packages)
    item, crid = pk.get("docker"), pk.get("cri-dockerd")
    version = Sourced(item.version, item.evidence) if item and item.version else None
    cri_dockerd = Sourced(crid.version, crid.evidence) if crid and crid.version else None
    daemon = facts.parse(DAEMON_JSON, parse_daemon_json)
    present = item is not None or crid is not None or facts.root.exists(DAEMON_JSON)
    if facts.running and present:
        result = facts.root.run("docker-info")
        if result is not None and result.ok and result.stdout.split():
            driver = result.stdout.split()[0]
            return DockerFacts(
                True,
                version,
                cri_dockerd,
                Sourced(driver, Evidence(result.display, result.stdout.strip())),
            )
    if facts.parse_failed(DAEMON_JSON):
        why = _("{path} cannot be parsed").format(path=DAEMON_JSON)
        return DockerFacts(present, version, cri_dockerd, None, why)
    if daemon is not None and daemon.cgroup_driver is not None:
        ev = file_evidence(DAEMON_JSON, daemon.text or "", daemon.line)
        return DockerFacts(present, version, cri_dockerd, Sourced(daemon.cgroup_driver, ev))
    if not present:
        return DockerFacts(False, version, cri_dockerd, None)
    mode = facts.get(cgroup_facts).mode
    if mode is None:
        why = _("the cgroup mode is unknown")
        return DockerFacts(present, version, cri_dockerd, None, why)
    if mode is not CgroupMode.V2:
        return DockerFacts(
            present,
            version,
            cri_dockerd,
            Sourced(
                "cgroupfs",
                Evidence(
                    DAEMON_JSON,
                    "native.cgroupdriver is not set; Docker defaults to cgroupfs on "
                    f"cgroup {mode.value}",
                ),
            ),
        )
    pid1 = facts.get(init_system)
    if pid1.systemd is None:
        why = _("whether systemd runs is unknown")
        return DockerFacts(present, version, cri_dockerd, None, why)
    driver = "systemd" if pid1.systemd else "cgroupfs"
    why = "with systemd" if pid1.systemd else "without systemd"
    return DockerFacts(
        present,
        version,
        cri_dockerd,
        Sourced(
            driver,
            Evidence(
                DAEMON_JSON,
                f"native.cgroupdriver is not set; Docker defaults to {driver} on cgroup v2 {why}",
            ),
        ),
    )
