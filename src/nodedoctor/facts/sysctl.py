"""The kernel parameters (sysctls) Kubernetes needs: the values the node runs with, and the
values its sysctl configuration sets at boot (and ``sysctl --system`` applies).

Running values are read from ``/proc/sys`` of the root: live, a bundle, a recorded root. A
recorded root that holds ``/proc/sys/net/ipv4/ip_forward`` recorded the node's network
sysctls: a key it lacks (``/proc/sys/net/bridge/...``) was absent on the node, as it is live
when the module that makes it (``br_netfilter``) is not loaded. A disk image has no
``/proc``: the running values are unknown there, never guessed from the files. A root whose
``/proc/sys/net`` holds no ``ipv4/ip_forward`` (a key every kernel has) shows nothing of the
node's network settings: unknown too.

A host seen from a pod (``--root /host`` whose ``proc`` is the host's live procfs): the
``net.*`` sysctls under ``/proc/sys`` are the *reader's* network namespace's, a pod's unless
it runs with ``hostNetwork``. IPv4 forwarding is then read from ``/proc/1/net/snmp``
(``Ip: Forwarding`` is 1 when forwarding, 2 when not: RFC 1213 ipForwarding, kernel
net/ipv4/proc.c), which is PID 1's namespace, the host's; the other keys are read only when
the reader's namespace is PID 1's (``/proc/self/ns/net`` and ``/proc/1/ns/net`` name the same),
else they are unknown.

Configured values, in the order ``sysctl --system`` (procps) applies them, the last
assignment of a key winning: ``*.conf`` of ``/etc/sysctl.d``, ``/run/sysctl.d``,
``/usr/local/lib/sysctl.d``, ``/usr/lib/sysctl.d``, ``/lib/sysctl.d`` sorted by file name
(a name in an earlier directory hides the same name in a later one), then
``/etc/sysctl.conf``. systemd-sysctl applies the same files at boot (Debian, Ubuntu and RHEL
link ``/etc/sysctl.d/99-sysctl.conf`` to ``/etc/sysctl.conf``).
"""

from __future__ import annotations

import os

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.mounts import host_procfs
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers.sysctl import SysctlAssignment, parse_modules_load, parse_sysctl_conf
from nodedoctor.sources.root import UnsafePathError

IP_FORWARD = "net.ipv4.ip_forward"
#: kubeadm's IPv6 check reads the default (cmd/kubeadm/app/preflight/checks.go
#: ipv6DefaultForwarding); writing ``all`` sets every interface's and the default's.
IPV6_DEFAULT_FORWARDING = "net.ipv6.conf.default.forwarding"
IPV6_ALL_FORWARDING = "net.ipv6.conf.all.forwarding"
BRIDGE_NF_CALL_IPTABLES = "net.bridge.bridge-nf-call-iptables"
BRIDGE_NF_CALL_IP6TABLES = "net.bridge.bridge-nf-call-ip6tables"

#: The sysctls the rules read, each read once.
KEYS = (
    IP_FORWARD,
    IPV6_DEFAULT_FORWARDING,
    IPV6_ALL_FORWARDING,
    BRIDGE_NF_CALL_IPTABLES,
    BRIDGE_NF_CALL_IP6TABLES,
)

SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"
PROC_SNMP_OF_PID1 = "/proc/1/net/snmp"


def proc_path(key: str) -> str:
    """``net.ipv4.ip_forward`` -> ``/proc/sys/net/ipv4/ip_forward``."""
    return "/proc/sys/" + key.replace(".", "/")


@record
class RunningValue:
    key: str
    #: The value as the kernel prints it, stripped; ``None`` when absent or unknown.
    value: str | None
    #: Whether the key exists on the node; ``None`` when this root cannot tell.
    present: bool | None
    evidence: Evidence | None
    #: Why the value is unknown (empty when known).
    unknown: str = ""


@record
class ConfiguredValue:
    key: str
    value: str
    #: The file, line and text of the assignment that wins.
    evidence: Evidence
    path: str


@record
class SysctlFacts:
    """The running values of :data:`KEYS` (a few ``/proc/sys`` files, read on every check)."""

    running: dict[str, RunningValue]

    def value(self, key: str) -> RunningValue:
        return self.running[key]


@record
class SysctlConfig:
    """What the sysctl configuration files set (read only where a rule needs them: a finding
    says what they hold, a remedy where to write)."""

    #: The last assignment of each key of :data:`KEYS`, in the order applied.
    configured: dict[str, ConfiguredValue]
    #: The configuration files read, in the order applied.
    files: tuple[str, ...]
    #: Every assignment of the keys in :data:`KEYS`, in the order applied (file, assignment).
    assignments: tuple[tuple[str, SysctlAssignment], ...] = ()

    def configured_value(self, key: str) -> ConfiguredValue | None:
        return self.configured.get(key)


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _shares_pid1_netns(facts: Facts) -> bool:
    """Whether the reader's network namespace is PID 1's (a pod with ``hostNetwork``), as
    the two ``ns/net`` links of the host's procfs tell; ``False`` when they cannot be read."""
    try:
        proc = facts.root.resolve("/proc")
    except UnsafePathError:
        return False
    mine, pid1 = _readlink(f"{proc}/self/ns/net"), _readlink(f"{proc}/1/ns/net")
    return mine is not None and mine == pid1


def _snmp_forwarding(text: str) -> tuple[str, str] | None:
    """(value as ``ip_forward`` prints it, the line) from ``/proc/<pid>/net/snmp``.

    >>> _snmp_forwarding("Ip: Forwarding DefaultTTL\\nIp: 2 64\\nIcmp: InMsgs\\nIcmp: 0\\n")
    ('0', 'Ip: 2 64')
    >>> _snmp_forwarding("Ip: Forwarding DefaultTTL\\nIp: 1 64\\n")
    ('1', 'Ip: 1 64')
    >>> _snmp_forwarding("Ip: DefaultTTL\\nIp: 64\\n") is None
    True
    """
    lines = [ln for ln in text.splitlines() if ln.startswith("Ip:")]
    if len(lines) < 2:
        return None
    names, values = lines[0].split()[1:], lines[1].split()[1:]
    if "Forwarding" not in names or len(values) != len(names):
        return None
    raw = values[names.index("Forwarding")]
    return {"1": "1", "2": "0"}.get(raw, raw), lines[1]


def _running(facts: Facts) -> dict[str, RunningValue]:
    out: dict[str, RunningValue] = {}
    pod_view = host_procfs(facts.root) and not _shares_pid1_netns(facts)
    # ip_forward exists in every network namespace: where it is missing, so is everything.
    records_net = facts.root.exists(proc_path(IP_FORWARD))
    for key in KEYS:
        path = proc_path(key)
        if pod_view:
            if key == IP_FORWARD:
                text = facts.read(PROC_SNMP_OF_PID1)
                found = _snmp_forwarding(text) if text else None
                if found is not None:
                    value, line = found
                    out[key] = RunningValue(
                        key, value, True, file_evidence(PROC_SNMP_OF_PID1, line)
                    )
                    continue
            out[key] = RunningValue(
                key,
                None,
                None,
                None,
                "this root's procfs shows the reader's network namespace, not the host's "
                "(a pod without hostNetwork)",
            )
            continue
        text = facts.read(path)
        if text is not None and text.strip():
            value = " ".join(text.split())
            out[key] = RunningValue(key, value, True, file_evidence(path, value))
        elif records_net:
            out[key] = RunningValue(key, None, False, Evidence(path, "absent"))
        else:
            out[key] = RunningValue(
                key,
                None,
                None,
                None,
                _(
                    "{path} is not in this root: the node's running network settings are "
                    "unknown (a disk image, a root that did not record them)"
                ).format(path=proc_path(IP_FORWARD)),
            )
    return out


def sysctl_files(facts: Facts) -> list[str]:
    """The configuration files in the order ``sysctl --system`` applies them."""
    chosen: dict[str, str] = {}
    for directory in SYSCTL_DIRS:
        for path in facts.root.glob(directory, "*.conf"):
            name = path.rsplit("/", 1)[-1]
            if name not in chosen and not facts.root.is_dir(path):
                chosen[name] = path
    files = [chosen[name] for name in sorted(chosen)]
    if facts.root.exists(SYSCTL_CONF):
        files.append(SYSCTL_CONF)
    return files


def sysctl_facts(facts: Facts) -> SysctlFacts:
    return SysctlFacts(_running(facts))


def sysctl_config(facts: Facts) -> SysctlConfig:
    configured: dict[str, ConfiguredValue] = {}
    assignments: list[tuple[str, SysctlAssignment]] = []
    files = sysctl_files(facts)
    for path in files:
        parsed = facts.parse(path, parse_sysctl_conf)
        for a in parsed or ():
            if a.key in KEYS:
                assignments.append((path, a))
                configured[a.key] = ConfiguredValue(
                    a.key, a.value, file_evidence(path, a.text, a.line), path
                )
    return SysctlConfig(configured, tuple(files), tuple(assignments))


#: modules-load.d(5): read by systemd-modules-load at boot, before systemd-sysctl (which is
#: ordered after it), so a module's sysctls exist when the sysctl files are applied.
MODULES_LOAD_DIRS = (
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
)


def modules_loaded_at_boot(facts: Facts) -> dict[str, Evidence]:
    """Module (``_`` for ``-``) -> the modules-load.d line that loads it at boot."""
    chosen: dict[str, str] = {}
    for directory in MODULES_LOAD_DIRS:
        for path in facts.root.glob(directory, "*.conf"):
            name = path.rsplit("/", 1)[-1]
            if name not in chosen and not facts.root.is_dir(path):
                chosen[name] = path
    out: dict[str, Evidence] = {}
    for name in sorted(chosen):
        path = chosen[name]
        for module, line in facts.parse(path, parse_modules_load) or ():
            out.setdefault(module.replace("-", "_"), file_evidence(path, module, line))
    return out
