"""``/var/lib/dpkg/status``: installed Debian packages and their versions.

>>> pkgs = parse_dpkg_status('Package: containerd\\nStatus: install ok installed\\n'
...                          'Version: 1.7.12-0ubuntu4\\n\\nPackage: gone\\n'
...                          'Status: deinstall ok config-files\\nVersion: 1\\n')
>>> sorted(pkgs), pkgs['containerd'].version, pkgs['containerd'].line
(['containerd'], '1.7.12-0ubuntu4', 3)
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class DebPackage:
    name: str
    version: str
    line: int
    text: str


def parse_dpkg_status(text: str) -> dict[str, DebPackage]:
    out: dict[str, DebPackage] = {}
    fields: dict[str, tuple[str, int, str]] = {}

    def flush() -> None:
        name = fields.get("Package")
        status = fields.get("Status")
        version = fields.get("Version")
        if name and version and status and status[0].endswith(" installed"):
            out[name[0]] = DebPackage(name[0], version[0], version[1], version[2])
        fields.clear()

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            flush()
            continue
        if line[0] in " \t":
            continue  # continuation of a multi-line field (Description, Conffiles)
        key, sep, value = line.partition(":")
        if not sep:
            raise ParseError(f"not a 'Field: value' line: {line[:60]!r}", lineno)
        fields[key] = (value.strip(), lineno, line)
    flush()
    return out
