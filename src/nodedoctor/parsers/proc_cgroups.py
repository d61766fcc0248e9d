"""``/proc/cgroups``: one row per v1 controller the kernel knows.

>>> rows = parse_proc_cgroups('#subsys_name\\thierarchy\\tnum_cgroups\\tenabled\\n'
...                           'cpuset\\t0\\t1\\t1\\nmemory\\t0\\t1\\t0\\n')
>>> [(r.name, r.enabled, r.line) for r in rows]
[('cpuset', True, 2), ('memory', False, 3)]
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class ControllerRow:
    name: str
    hierarchy: int
    num_cgroups: int
    enabled: bool
    line: int
    text: str


def parse_proc_cgroups(text: str) -> list[ControllerRow]:
    rows: list[ControllerRow] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 4:
            raise ParseError("expected 4 fields: subsys_name hierarchy num_cgroups enabled", lineno)
        try:
            hierarchy, num, enabled = (int(f) for f in fields[1:])
        except ValueError:
            raise ParseError("hierarchy, num_cgroups and enabled must be numbers", lineno) from None
        rows.append(ControllerRow(fields[0], hierarchy, num, enabled != 0, lineno, line))
    return rows
