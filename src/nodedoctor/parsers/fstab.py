"""``/etc/fstab`` (fstab(5)): one filesystem per line, fields separated by blanks: spec,
mount point, type, options, dump, pass (the last three may be left out); ``#`` starts a
comment line. Octal escapes (``\\040`` for a space) are decoded in spec and mount point.

>>> e = parse_fstab('# /etc/fstab\\nUUID=3a9c / ext4 defaults 0 1\\n'
...                 '/swap.img\\tnone\\tswap\\tsw\\t0\\t0\\n')
>>> [(x.spec, x.mount_point, x.fstype, x.line) for x in e]
[('UUID=3a9c', '/', 'ext4', 2), ('/swap.img', 'none', 'swap', 3)]
>>> [x.is_swap for x in e]
[False, True]
>>> parse_fstab('/dev/sda1\\n')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 1: expected at least spec, mount point and type, got '/dev/sda1'
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

_OCTAL = re.compile(r"\\([0-7]{3})")


@record
class FstabEntry:
    spec: str
    mount_point: str
    fstype: str
    options: str
    line: int
    text: str

    @property
    def is_swap(self) -> bool:
        return self.fstype == "swap"


def _unescape(field: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_fstab(text: str) -> list[FstabEntry]:
    out: list[FstabEntry] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 3:
            raise ParseError(f"expected at least spec, mount point and type, got {line!r}", lineno)
        options = fields[3] if len(fields) > 3 else "defaults"
        out.append(
            FstabEntry(_unescape(fields[0]), _unescape(fields[1]), fields[2], options, lineno, line)
        )
    return out
