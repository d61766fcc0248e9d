"""``/proc/<pid>/mountinfo`` and ``/proc/mounts``.

>>> m = parse_mountinfo('31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\\n'
...                     '41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\\n')
>>> [(x.mount_point, x.fstype, x.line) for x in m]
[('/sys/fs/cgroup', 'tmpfs', 1), ('/sys/fs/cgroup/unified', 'cgroup2', 2)]
>>> parse_proc_mounts('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\\n')[0].fstype
'cgroup2'
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class Mount:
    mount_id: int | None
    parent_id: int | None
    major_minor: str
    root: str
    mount_point: str
    options: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]
    line: int
    text: str

    @property
    def all_options(self) -> tuple[str, ...]:
        return self.options + self.super_options


def _unescape(field: str) -> str:
    r"""Undo the kernel's octal escapes (``\040`` for a space)."""
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) + 1 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts: list[Mount] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            sep = fields.index("-", 6)
        except ValueError:
            raise ParseError("mountinfo line has no ' - ' separator", lineno) from None
        if len(fields) < 10 or len(fields) - sep < 3:
            raise ParseError("mountinfo line has too few fields", lineno)
        try:
            mount_id, parent_id = int(fields[0]), int(fields[1])
        except ValueError:
            raise ParseError("mountinfo mount ids are not numbers", lineno) from None
        mounts.append(
            Mount(
                mount_id=mount_id,
                parent_id=parent_id,
                major_minor=fields[2],
                root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]),
                options=tuple(fields[5].split(",")),
                fstype=fields[sep + 1],
                source=_unescape(fields[sep + 2]),
                super_options=tuple(fields[sep + 3].split(",")) if len(fields) > sep + 3 else (),
                line=lineno,
                text=line,
            )
        )
    return mounts


def parse_proc_mounts(text: str) -> list[Mount]:
    mounts: list[Mount] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 4:
            raise ParseError("mounts line has too few fields", lineno)
        mounts.append(
            Mount(
                mount_id=None,
                parent_id=None,
                major_minor="",
                root="/",
                mount_point=_unescape(fields[1]),
                options=tuple(fields[3].split(",")),
                fstype=fields[2],
                source=_unescape(fields[0]),
                super_options=(),
                line=lineno,
                text=line,
            )
        )
    return mounts
