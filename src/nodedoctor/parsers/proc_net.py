"""``/proc/net/tcp`` and ``/proc/net/tcp6``: the TCP sockets of a network namespace, one per
line after a header (``sl local_address rem_address st ... uid timeout inode ...``). Addresses
are hexadecimal: an IPv4 address as the kernel's 32-bit word printed in host byte order
(``0100007F`` is 127.0.0.1 on little-endian machines), an IPv6 address as four such words, and
the port in network order (``1A0B`` is 6667). State ``0A`` is LISTEN.

Only listening sockets are kept:

>>> socks = parse_proc_net_tcp(
...     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
...     "timeout inode\\n"
...     "   0: 0100007F:2A0A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
...     "        0 31337 1 0000000000000000 100 0 0 10 0\\n"
...     "   1: 0100007F:2A0A 0100007F:D43A 01 00000000:00000000 00:00000000 00000000     0"
...     "        0 31338 1 0000000000000000 20 4 30 10 -1\\n")
>>> [(s.address, s.port, s.inode, s.line) for s in socks.listening], socks.others
([('127.0.0.1', 10762, 31337, 2)], 1)
>>> parse_proc_net_tcp("  sl  local_address\\n   0: 00000000000000000000000000000000:18EB "
...     "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
...     "        0 4242 1 0000000000000000 100 0 0 10 0\\n").listening[0].address
'::'
>>> _address("0000000000000000FFFF00000100007F"), _address("B80D01200000000000000000010000FE")
('::ffff:7f00:1', '2001:db8::fe00:1')
>>> parse_proc_net_tcp("  sl  local_address\\n   0: garbage\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 2: expected 'sl: local rem st ... inode' in hexadecimal
"""

from __future__ import annotations

import re
import struct

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

LISTEN = "0A"


@record
class ListeningSocket:
    address: str
    port: int
    inode: int
    line: int
    text: str


_ZEROS = re.compile(r"(?:^|:)0(?::0)+(?::|$)")


def _address(hexaddr: str) -> str:
    """The address as people write it (each 32-bit word byte-swapped from host order)."""
    raw = bytes.fromhex(hexaddr)
    if len(raw) not in (4, 16):
        raise ValueError(hexaddr)
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(swapped) == 4:
        return ".".join(str(b) for b in swapped)
    groups = ":".join(f"{g:x}" for g in struct.unpack(">8H", swapped))
    runs = sorted(_ZEROS.finditer(groups), key=lambda m: m.end() - m.start(), reverse=True)
    if not runs:
        return groups
    m = runs[0]
    return groups[: m.start()] + "::" + groups[m.end() :]


@record
class TcpTable:
    listening: tuple[ListeningSocket, ...]
    #: Sockets in any other state (they come after the listening ones).
    others: int


def _socket(fields: list[str], lineno: int, line: str) -> ListeningSocket | None:
    """The line's socket when it listens, ``None`` when it is in another state."""
    if len(fields) < 10 or not fields[0].endswith(":"):
        raise ValueError(line)
    local, state, inode = fields[1], fields[3], fields[9]
    if state != LISTEN:
        return None
    hexaddr, _, hexport = local.partition(":")
    return ListeningSocket(_address(hexaddr), int(hexport, 16), int(inode), lineno, line)


def parse_proc_net_tcp(text: str) -> TcpTable:
    found: list[ListeningSocket] = []
    others = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        fields = line.split()
        if lineno == 1 or not fields:
            continue  # the header
        try:
            sock = _socket(fields, lineno, line)
        except ValueError:
            raise ParseError(
                "expected 'sl: local rem st ... inode' in hexadecimal", lineno
            ) from None
        if sock is None:
            others += 1
        else:
            found.append(sock)
    return TcpTable(tuple(found), others)
