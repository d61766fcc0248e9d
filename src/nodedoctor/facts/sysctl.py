"""Kernel settings read from ``/proc/sys`` in the root, and the modules that provide some of
them (a ``/proc/sys/net/bridge`` directory exists only while ``br_netfilter`` is loaded or
built in).

Under ``--root`` a directory holds ``proc/sys`` only when it was recorded (a bundle) or is a
live host's; a root without it gives ``None``: unknown, never a finding.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced
from nodedoctor.model import Evidence

IP_FORWARD = "net.ipv4.ip_forward"
IPV6_FORWARD = "net.ipv6.conf.default.forwarding"
BRIDGE_NF_IPTABLES = "net.bridge.bridge-nf-call-iptables"


def sysctl_path(key: str) -> str:
    """``net.ipv4.ip_forward`` -> ``/proc/sys/net/ipv4/ip_forward``."""
    return "/proc/sys/" + key.replace(".", "/")


def _read(facts: Facts, key: str) -> Sourced[str] | None:
    path = sysctl_path(key)
    text = facts.read(path)
    if text is None:
        return None
    value = text.strip()[:64]
    return Sourced(value, Evidence(path, value or "(empty)"))


@record
class SysctlFacts:
    #: ``None``: this root has no ``/proc/sys/net`` (not recorded).
    ip_forward: Sourced[str] | None
    bridge_nf_call_iptables: Sourced[str] | None
    #: ``/proc/sys/net`` is in the root, so an absent key means absent on the node.
    net_readable: bool

    @property
    def bridge_netfilter_loaded(self) -> bool | None:
        if not self.net_readable:
            return None
        return self.bridge_nf_call_iptables is not None


def sysctl_facts(facts: Facts) -> SysctlFacts:
    net = facts.root.is_dir("/proc/sys/net")
    return SysctlFacts(
        _read(facts, IP_FORWARD) if net else None,
        _read(facts, BRIDGE_NF_IPTABLES) if net else None,
        net,
    )
