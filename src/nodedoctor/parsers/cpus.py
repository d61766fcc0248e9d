"""How many CPUs a node has: the kernel's list of online CPUs
(``/sys/devices/system/cpu/online``, the cpulist format of cpuset(7)) and the processor
entries of ``/proc/cpuinfo``.

>>> [count_cpu_list(t).count for t in ("0-3\\n", "0,2-3,8-15\\n", "0\\n", "0-8:2/4")]
[4, 11, 1, 5]
>>> count_cpu_list("0-3\\n").text
'0-3'
>>> count_cpu_list("3-1")
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 1: not a CPU list (cpuset(7)): '3-1'
>>> count_cpuinfo("processor\\t: 0\\nmodel name\\t: ARMv7 Processor rev 4 (v7l)\\n\\n"
...               "processor\\t: 1\\nBogoMIPS\\t: 38.40\\n").count
2
>>> count_cpuinfo("vendor_id       : IBM/S390\\n# processors    : 2\\n"
...               "processor 0: version = FF,  identification = 0133E8\\n"
...               "processor 1: version = FF,  identification = 0133E8\\n").count
2
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

#: One element of a cpulist: ``N`` or ``N-M``, optionally ``N-M:used/group`` (cpuset(7)).
_ELEMENT = re.compile(r"^(\d{1,9})(?:-(\d{1,9})(?::(\d{1,9})/(\d{1,9}))?)?$")
#: ``processor : 0`` (x86, arm, riscv, ppc) or ``processor 0: ...`` (s390x).
_PROCESSOR = re.compile(r"^processor\s*(?::|\d+\s*:)")


@record
class CpuCount:
    count: int
    #: What was counted, as the evidence shows it.
    text: str


def count_cpu_list(text: str) -> CpuCount:
    """The CPUs in a cpulist (the file holds one line)."""
    body = text.strip()
    if not body:
        return CpuCount(0, body)
    total = 0
    for element in body.split(","):
        m = _ELEMENT.match(element.strip())
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise ParseError(f"not a CPU list (cpuset(7)): {body!r}", 1)
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if m.group(3) is not None:
            used, group = int(m.group(3)), int(m.group(4))
            if group == 0 or used > group:
                raise ParseError(f"not a CPU list (cpuset(7)): {body!r}", 1)
            count = last - first + 1
            total += (count // group) * used + min(count % group, used)
        else:
            total += last - first + 1
    return CpuCount(total, body)


def count_cpuinfo(text: str) -> CpuCount:
    """The processor entries of ``/proc/cpuinfo`` (one per online CPU)."""
    count = sum(1 for line in text.splitlines() if _PROCESSOR.match(line))
    return CpuCount(count, f"{count} processor entries")
