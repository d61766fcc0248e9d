"""``/proc/meminfo``: the kernel's memory counters (proc(5)), most in KiB.

``MemTotal`` is what ``sysinfo(2)`` calls ``totalram``: kubeadm's Mem preflight check
(``totalram * unit / 1024 / 1024``) and Ansible's ``memtotal_mb`` (``MemTotal // 1024``) both
read it in MiB.

>>> info = parse_meminfo("MemTotal:        1917292 kB\\nMemFree:          110412 kB\\n"
...                      "HugePages_Total:       0\\n")
>>> info["MemTotal"].kib, info["MemTotal"].line, info["HugePages_Total"].kib
(1917292, 1, 0)
>>> parse_meminfo("MemTotal: lots\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 1: expected "Name: number [kB]", got 'MemTotal: lots'
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

#: ``Name:   1234 kB`` or, for counts, ``Name:   12``; names may hold ``(`` and ``)``
#: (``Active(anon)``).
_LINE = re.compile(r"^([A-Za-z0-9_()]+):\s+(\d{1,20})(?:\s+kB)?\s*$")


@record
class MeminfoEntry:
    name: str
    #: The number as written: KiB for sizes, a count for ``HugePages_*``.
    kib: int
    line: int
    text: str


def parse_meminfo(text: str) -> dict[str, MeminfoEntry]:
    entries: dict[str, MeminfoEntry] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise ParseError(f'expected "Name: number [kB]", got {line.strip()!r}', lineno)
        entries.setdefault(m.group(1), MeminfoEntry(m.group(1), int(m.group(2)), lineno, line))
    return entries
