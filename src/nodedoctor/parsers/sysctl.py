"""sysctl configuration files (``/etc/sysctl.conf``, ``/etc/sysctl.d/*.conf``, sysctl.d(5)):
one ``key = value`` per line, ``#`` and ``;`` start comments, a leading ``-`` makes a failure
to set the key harmless. Keys are normalised to dots (``net/ipv4/ip_forward`` is
``net.ipv4.ip_forward``); the value is the rest of the line, stripped.

>>> a = parse_sysctl_conf('# k8s\\nnet.ipv4.ip_forward = 1\\n; old\\n'
...                       '-net/bridge/bridge-nf-call-iptables=1\\n')
>>> [(s.key, s.value, s.line, s.ignore_failure) for s in a]
[('net.ipv4.ip_forward', '1', 2, False), ('net.bridge.bridge-nf-call-iptables', '1', 4, True)]
>>> parse_sysctl_conf('kernel.sysrq\\n')
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 1: expected "key = value", got 'kernel.sysrq'
>>> parse_sysctl_conf('net.ipv4.ip_forward =\\n')[0].value
''

A glob in a key (systemd 249+, ``net.ipv4.conf.*.rp_filter``) is kept as written; it never
equals a plain key.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class SysctlAssignment:
    key: str
    value: str
    line: int
    text: str
    #: ``-key = value``: sysctl.d(5) ignores a failure to set it.
    ignore_failure: bool = False


def normalize_key(key: str) -> str:
    """``net/ipv4/ip_forward`` -> ``net.ipv4.ip_forward`` (sysctl.d(5): either separator; a
    key written with slashes keeps any dots it has inside a part, e.g. an interface ``eth0.5``,
    which this normalisation cannot tell apart and which no rule here reads).

    >>> normalize_key(' net/ipv4/ip_forward '), normalize_key('net.ipv4.ip_forward')
    ('net.ipv4.ip_forward', 'net.ipv4.ip_forward')
    """
    key = key.strip()
    return key.replace("/", ".") if "/" in key else key


def parse_sysctl_conf(text: str) -> list[SysctlAssignment]:
    out: list[SysctlAssignment] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if "=" not in line:
            raise ParseError(f'expected "key = value", got {line!r}', lineno)
        key, value = line.split("=", 1)
        ignore = key.startswith("-")
        key = normalize_key(key[1:] if ignore else key)
        if not key or any(c.isspace() for c in key):
            raise ParseError(f"not a sysctl key: {key!r}", lineno)
        out.append(SysctlAssignment(key, value.strip(), lineno, line, ignore))
    return out


def parse_modules_load(text: str) -> list[tuple[str, int]]:
    """``/etc/modules-load.d/*.conf`` (modules-load.d(5)): a kernel module name per line,
    ``#`` and ``;`` start comments. (module, line) pairs.

    >>> parse_modules_load('# k8s\\noverlay\\nbr_netfilter\\n')
    [('overlay', 2), ('br_netfilter', 3)]
    >>> parse_modules_load('br_netfilter extra\\n')
    Traceback (most recent call last):
    ...
    nodedoctor.parsers.ParseError: line 1: expected one module name, got 'br_netfilter extra'
    """
    out: list[tuple[str, int]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if len(line.split()) != 1:
            raise ParseError(f"expected one module name, got {line!r}", lineno)
        out.append((line, lineno))
    return out
