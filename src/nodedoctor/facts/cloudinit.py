"""Bootstrap on a cloud VM or image: is this Google Compute Engine, is cloud-init installed and
enabled (it runs the ``user-data`` metadata that kOps >= 1.28 writes its bootstrap to), and
did the kOps bootstrap run?

Markers (research/incidents.md §4, canonical/cloud-init tools/ds-identify,
GoogleCloudPlatform/guest-agent):

- GCE: DMI ``product_name`` = ``Google Compute Engine`` or serial ``GoogleCloud-*`` (what
  ds-identify's ``dscheck_GCE`` reads), or Google's startup-script runner installed (the
  only marker a disk image has, since ``/sys`` is empty there).
- cloud-init installed: its binary, its units and generator,
  ``ds-identify``, the dpkg entry.
- cloud-init disabled: ``/etc/cloud/cloud-init.disabled``, ``cloud-init=disabled`` on the
  kernel command line (live, or ``/etc/default/grub``, ``/etc/kernel/cmdline``),
  ``KERNEL_CMDLINE=cloud-init=disabled`` in systemd's ``DefaultEnvironment``, or an effective
  ``datasource_list`` without ``GCE``.
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.boot import boot_chain, kernel_cmdline
from nodedoctor.facts.deployers import KOPS
from nodedoctor.facts.packages import packages
from nodedoctor.model import Evidence
from nodedoctor.parsers.cloudinit import DatasourceList, parse_datasource_list

UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
GENERATOR_DIRS = ("/usr/lib/systemd/system-generators", "/lib/systemd/system-generators")

GCE_PRODUCT_NAME = "Google Compute Engine"
GCE_RUNNER_BINARIES = (
    "/usr/bin/google_metadata_script_runner",
    "/usr/bin/google_metadata_script_runner_adapt",
)
GCE_RUNNER_UNIT = "google-startup-scripts.service"

#: Installed programs (a left-over ``/etc/cloud/cloud.cfg`` alone, as ``dpkg -r`` keeps it,
#: does not count).
CLOUD_INIT_FILES = (
    "/usr/bin/cloud-init",
    "/usr/lib/cloud-init/ds-identify",
    "/usr/libexec/cloud-init/ds-identify",
)
#: Units of every cloud-init release (cloud-init.service <= 24.2; cloud-init-main.service and
#: cloud-init-network.service from 24.3).
CLOUD_INIT_UNITS = (
    "cloud-init-local.service",
    "cloud-init.service",
    "cloud-init-main.service",
    "cloud-init-network.service",
    "cloud-config.service",
    "cloud-final.service",
    "cloud-init.target",
)

#: nodeup's own files: it ran on this node (the kOps model's markers).
KOPS_MARKERS = KOPS.markers


@record
class CloudInitFacts:
    #: Why this is a GCE instance or image; empty when nothing says so.
    gce: tuple[Evidence, ...]
    #: Google's startup-script runner (runs the ``startup-script`` metadata key).
    gce_startup_runner: tuple[Evidence, ...]
    #: What shows cloud-init is installed; empty when nothing does.
    installed: tuple[Evidence, ...]
    #: Whether the root holds the OS's programs at all (a disk image or a live node does; a
    #: sparse support bundle may not), so that "not installed" can be told.
    can_tell_installed: bool
    #: Why cloud-init will not run (apart from the data source list).
    disabled: tuple[Evidence, ...]
    #: The effective ``datasource_list`` (last file that sets it wins), ``None`` if unset.
    datasource_list: tuple[str, DatasourceList] | None
    #: Files that the kOps bootstrap (nodeup) leaves when it ran.
    kops_bootstrap: tuple[Evidence, ...]

    @property
    def on_gce(self) -> bool:
        return bool(self.gce)

    @property
    def datasource_excludes_gce(self) -> bool:
        return self.datasource_list is not None and "GCE" not in self.datasource_list[1].value

    @property
    def datasource_evidence(self) -> Evidence | None:
        if self.datasource_list is None:
            return None
        path, ds = self.datasource_list
        return file_evidence(path, ds.text, ds.line)


def _first_line(facts: Facts, path: str) -> str | None:
    text = facts.read(path)
    if text is None:
        return None
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def _unit(facts: Facts, name: str) -> str | None:
    for d in UNIT_DIRS:
        path = f"{d}/{name}"
        if facts.root.exists(path):
            return path
    return None


def _gce(facts: Facts) -> tuple[list[Evidence], list[Evidence]]:
    gce: list[Evidence] = []
    product = _first_line(facts, "/sys/class/dmi/id/product_name")
    if product == GCE_PRODUCT_NAME:
        gce.append(file_evidence("/sys/class/dmi/id/product_name", product, 1))
    serial = _first_line(facts, "/sys/class/dmi/id/product_serial")
    if serial and serial.startswith("GoogleCloud-"):
        gce.append(file_evidence("/sys/class/dmi/id/product_serial", serial, 1))
    runner: list[Evidence] = []
    agent = facts.get(packages).get("google-guest-agent")
    if agent is not None:
        runner.append(agent.evidence)
    for binary in GCE_RUNNER_BINARIES:
        if facts.root.exists(binary):
            runner.append(Evidence(binary, "Google's startup-script runner is installed"))
    unit = _unit(facts, GCE_RUNNER_UNIT)
    if unit is not None:
        text = facts.read(unit) or ""
        exec_lines = [
            (n, line)
            for n, line in enumerate(text.splitlines(), 1)
            if line.startswith("ExecStart=")
        ]
        if exec_lines:
            runner.append(file_evidence(unit, exec_lines[0][1], exec_lines[0][0]))
        else:
            runner.append(Evidence(unit, "unit file exists"))
    return gce + runner, runner


def _installed(facts: Facts) -> list[Evidence]:
    found: list[Evidence] = []
    pkg = facts.get(packages).get("cloud-init")
    if pkg is not None:
        found.append(pkg.evidence)
    for path in CLOUD_INIT_FILES:
        if facts.root.exists(path):
            found.append(Evidence(path, "exists"))
    for name in CLOUD_INIT_UNITS:
        unit = _unit(facts, name)
        if unit is not None:
            found.append(Evidence(unit, "exists"))
    for d in GENERATOR_DIRS:
        path = f"{d}/cloud-init-generator"
        if facts.root.exists(path):
            found.append(Evidence(path, "exists"))
    return found


def _cmdline_disables(facts: Facts) -> list[Evidence]:
    """``cloud-init=disabled`` on the running kernel's command line, or in the file the boot
    loader builds the next one from (GRUB's defaults, ``/etc/kernel/cmdline``)."""
    found: list[Evidence] = []
    running = facts.get(kernel_cmdline)
    params = list(running.params) if running is not None else []
    chain = facts.get(boot_chain)
    if chain.target is not None:
        params += chain.target.read_params
    for p in params:
        if p.text == "cloud-init=disabled":
            found.append(p.evidence())
    return found


_DEFAULT_ENV = re.compile(r"^\s*DefaultEnvironment\s*=(.*)$")


def _systemd_env_disables(facts: Facts) -> list[Evidence]:
    found: list[Evidence] = []
    paths = ["/etc/systemd/system.conf", *facts.drop_ins("/etc/systemd/system.conf.d", "*.conf")]
    for path in paths:
        text = facts.read(path)
        if not text:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            m = _DEFAULT_ENV.match(line)
            if m and re.search(r"KERNEL_CMDLINE=[^\"]*\bcloud-init=disabled\b", m.group(1)):
                found.append(file_evidence(path, line, lineno))
    return found


def _datasource_list(facts: Facts) -> tuple[str, DatasourceList] | None:
    effective: tuple[str, DatasourceList] | None = None
    for path in ["/etc/cloud/cloud.cfg", *facts.drop_ins("/etc/cloud/cloud.cfg.d", "*.cfg")]:
        parsed = facts.parse(path, parse_datasource_list)
        if parsed is not None:
            effective = (path, parsed)
    return effective


def cloudinit_facts(facts: Facts) -> CloudInitFacts:
    gce, runner = _gce(facts)
    installed = _installed(facts)
    disabled: list[Evidence] = []
    if facts.root.exists("/etc/cloud/cloud-init.disabled"):
        disabled.append(Evidence("/etc/cloud/cloud-init.disabled", "exists"))
    disabled += _cmdline_disables(facts)
    disabled += _systemd_env_disables(facts)
    kops = [Evidence(p, "exists") for p in KOPS_MARKERS if facts.root.exists(p)]
    can_tell = (
        facts.live
        or bool(installed)
        or bool(facts.root.listdir("/usr/bin"))
        or facts.get(packages).deb is not None
    )
    return CloudInitFacts(
        gce=tuple(gce),
        gce_startup_runner=tuple(runner),
        installed=tuple(installed),
        can_tell_installed=can_tell,
        disabled=tuple(disabled),
        datasource_list=_datasource_list(facts),
        kops_bootstrap=tuple(kops),
    )
