"""The node's CPUs and memory, as the deployers' preflight checks count them.

CPUs: ``/sys/devices/system/cpu/online`` (the kernel's online mask), else the processor
entries of ``/proc/cpuinfo``. kubeadm's NumCPU check counts ``runtime.NumCPU()``, the CPUs the
process may run on, which on a node (no ``taskset``, no cpuset) are the online ones.
Memory: ``MemTotal`` of ``/proc/meminfo`` in MiB (``kB // 1024``), which is what kubeadm's Mem
check computes from ``sysinfo(2)`` and Ansible's ``memtotal_mb`` fact, read by Kubespray's
preinstall asserts, from the same file. Both are ``None`` where the root does not hold the files
(a disk image has neither), never guessed.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.system import cpuinfo
from nodedoctor.model import Evidence
from nodedoctor.parsers.cpus import count_cpu_list, count_cpuinfo
from nodedoctor.parsers.meminfo import parse_meminfo

CPU_ONLINE = "/sys/devices/system/cpu/online"
CPUINFO = "/proc/cpuinfo"
MEMINFO = "/proc/meminfo"


@record
class Resources:
    cpus: Sourced[int] | None
    #: ``MemTotal`` in MiB.
    memory_mib: Sourced[int] | None


def _cpus(facts: Facts) -> Sourced[int] | None:
    online = facts.parse(CPU_ONLINE, count_cpu_list)
    if online is not None and online.count:
        return Sourced(online.count, file_evidence(CPU_ONLINE, online.text, 1))
    text = facts.get(cpuinfo)
    processors = count_cpuinfo(text) if text is not None else None
    if processors is not None and processors.count:
        return Sourced(processors.count, Evidence(CPUINFO, processors.text))
    return None


def _memory(facts: Facts) -> Sourced[int] | None:
    info = facts.parse(MEMINFO, parse_meminfo)
    total = info.get("MemTotal") if info else None
    if total is None:
        return None
    return Sourced(total.kib // 1024, file_evidence(MEMINFO, total.text, total.line))


def node_resources(facts: Facts) -> Resources:
    return Resources(_cpus(facts), _memory(facts))
