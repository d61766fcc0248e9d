r"""RPM package headers (what ``/var/lib/rpm/rpmdb.sqlite`` keeps, one per installed package)
and the lines of ``rpm -q --qf``: name, epoch, version, release and arch.

A header as the rpmdb stores it has no magic: a big-endian count of index entries ``il``
and of data bytes ``dl``, then ``il`` entries of 16 bytes (tag, type, offset, count), then
the data store (rpm ``docs/manual/format.md``, ``lib/header.c``). rpm refuses a header with
more than 0xffff entries or 16 MiB of data (``hdrchkTags``, ``hdrchkData``); so does this
parser, and every offset and string is checked against the data store's end.

>>> data = b"kubelet\0" b"1.34.1\0" b"150500.1.1\0" b"x86_64\0"
>>> index = [(NAME, 0), (VERSION, 8), (RELEASE, 15), (ARCH, 26)]
>>> blob = struct.pack(">II", 4, len(data)) + b"".join(
...     struct.pack(">iIiI", tag, 6, offset, 1) for tag, offset in index) + data
>>> pkg = parse_rpm_header(blob)
>>> pkg.nvra, pkg.epoch
('kubelet-1.34.1-150500.1.1.x86_64', None)
>>> parse_rpm_header(blob[:80])
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: rpm header: 4 index entries need 105 bytes, the header has 80
"""

from __future__ import annotations

import struct

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

NAME, VERSION, RELEASE, EPOCH, INSTALLTIME, ARCH = 1000, 1001, 1002, 1003, 1008, 1022
_INT32, _STRING = 4, 6
#: rpm's own limits (lib/header.c hdrchkTags, hdrchkData).
MAX_ENTRIES = 0xFFFF
MAX_DATA = 16 * 1024 * 1024
_WANTED = {NAME: _STRING, VERSION: _STRING, RELEASE: _STRING, EPOCH: _INT32, ARCH: _STRING}
_WANTED[INSTALLTIME] = _INT32


@record
class RpmPackage:
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str | None
    #: When rpm installed it (seconds since the epoch); ``None`` when not recorded.
    installed: int | None = None

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``, as rpm compares and dnf prints it."""
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{epoch}{self.version}-{self.release}"

    @property
    def nvra(self) -> str:
        """What ``rpm -q NAME`` prints: name-version-release.arch, without the epoch."""
        arch = f".{self.arch}" if self.arch else ""
        return f"{self.name}-{self.version}-{self.release}{arch}"


def parse_rpm_header(blob: bytes) -> RpmPackage:
    """The package a header describes; :class:`ParseError` when it is malformed or lacks a
    name, version or release."""
    if len(blob) < 8:
        raise ParseError(f"rpm header: {len(blob)} bytes, shorter than its 8-byte intro")
    il, dl = struct.unpack_from(">II", blob)
    if il > MAX_ENTRIES or dl > MAX_DATA:
        raise ParseError(f"rpm header: {il} entries and {dl} data bytes exceed rpm's limits")
    start = 8 + 16 * il
    if len(blob) < start + dl:
        raise ParseError(
            f"rpm header: {il} index entries need {start + dl} bytes, the header has {len(blob)}"
        )
    data = blob[start : start + dl]
    values: dict[int, str | int] = {}
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
        if tag not in _WANTED or tag in values:
            continue
        if kind != _WANTED[tag] or count < 1 or not 0 <= offset < dl:
            raise ParseError(f"rpm header: tag {tag} has type {kind}, offset {offset}")
        if kind == _INT32:
            if offset + 4 > dl:
                raise ParseError(f"rpm header: tag {tag}'s value ends past the data")
            values[tag] = struct.unpack_from(">I", data, offset)[0]
        else:
            end = data.find(b"\0", offset)
            if end < 0:
                raise ParseError(f"rpm header: tag {tag}'s string is not terminated")
            values[tag] = data[offset:end].decode("utf-8", errors="replace")
    name, version, release = (values.get(t) for t in (NAME, VERSION, RELEASE))
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(release, str)):
        raise ParseError("rpm header: no name, version or release")
    epoch, arch, installed = (values.get(t) for t in (EPOCH, ARCH, INSTALLTIME))
    return RpmPackage(
        name,
        epoch if isinstance(epoch, int) else None,
        version,
        release,
        arch if isinstance(arch, str) else None,
        installed if isinstance(installed, int) else None,
    )


#: ``rpm -q --qf`` format whose lines :func:`parse_rpm_query` reads (tab-separated).
QUERY_FORMAT = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n"


def parse_rpm_query(text: str) -> dict[str, RpmPackage]:
    r"""Installed packages from ``rpm -q --qf QUERY_FORMAT NAME...`` output; the lines rpm
    prints for names not installed (``package runc is not installed``) are skipped, and of a
    name installed more than once the last installed wins.

    >>> found = parse_rpm_query("kubelet\t(none)\t1.29.15\t150500.1.1\tx86_64\t1714600000\n"
    ...                         "package cri-o is not installed\n")
    >>> sorted(found), found["kubelet"].nvra, found["kubelet"].installed
    (['kubelet'], 'kubelet-1.29.15-150500.1.1.x86_64', 1714600000)
    """
    out: dict[str, RpmPackage] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 6 or not all(fields[:4]):
            continue
        name, epoch, version, release, arch, installed = fields
        pkg = RpmPackage(
            name,
            int(epoch) if epoch.isdigit() else None,
            version,
            release,
            arch if arch and arch != "(none)" else None,
            int(installed) if installed.isdigit() else None,
        )
        if name not in out or (pkg.installed or 0) >= (out[name].installed or 0):
            out[name] = pkg
    return out
