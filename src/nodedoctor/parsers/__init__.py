"""Parsers: text in, typed values out. Pure functions, no I/O.

Malformed input raises :class:`ParseError` with the line; nothing else escapes.

Every parser is bounded in the size of its input, the nesting it follows and what the input
may expand to, and checks those bounds before or while it parses: a file past one raises
:class:`LimitError` (a :class:`ParseError`, so it becomes a ``parse-error`` finding naming
the file and the bound), never a hang, a ``RecursionError`` or an unbounded allocation. The
constants are in :mod:`nodedoctor.parsers.limits`; the read limits are the facts layer's.

==============================  ============  ===============  ===========================
parser                          input size    nesting          expansion
==============================  ============  ===============  ===========================
kubelet config, k3s config,     256 KiB       64 levels (own   aliases add at most 10,000
cloud-init (``yamldoc``)                      composer, no     nodes; none may contain
                                              recursion)       itself
containerd, CRI-O (TOML)        256 KiB       64 levels of     dotted keys and table names
                                              arrays and       of 32 parts; 10,000 tables;
                                              inline tables    imports: 64 files (facts)
Docker ``daemon.json``          256 KiB       64 levels        none
reports read back (``report``)  16 MiB a      64 levels        none
                                document (a
                                JSON Lines
                                line)
mountinfo, ``/proc/mounts``     64 MiB read   none (lines)     none
rpm headers                     16 MiB data,  none             none
                                65,535 tags
``modules.dep``                  8 MiB read    none (lines)     none
``/proc/net/tcp``, ``tcp6``      4 MiB read,   none (lines)     none
                                listeners
                                first
every other parser: cmdline,    4 MiB read    none (lines or   none (``EnvironmentFile=``
os-release, dpkg status, unit                 words)           and drop-ins are files the
and env files, BLS, kconfig,                                   facts read one by one)
swaps, /proc/cgroups, AppArmor,
meminfo, CPU lists
drop-in directories (facts)     64 files                       none
==============================  ============  ===============  ===========================
"""

from __future__ import annotations


class ParseError(ValueError):
    """Input that is not what the format says. ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class LimitError(ParseError):
    """Input past one of the bounds in the table above; the message names the bound."""
