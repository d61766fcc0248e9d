"""Kernel command lines: ``/proc/cmdline``, ``cmdline.txt``, GRUB and ``/etc/kernel/cmdline``.

>>> params = parse_cmdline('console=tty1 cgroup_disable=memory quiet cgroup_enable=memory')
>>> [(p.key, p.value) for p in params]
[('console', 'tty1'), ('cgroup_disable', 'memory'), ('quiet', None), ('cgroup_enable', 'memory')]
>>> parse_cmdline('a="b c" d')[0].value
'b c'
"""

from __future__ import annotations

import shlex

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class Param:
    key: str
    value: str | None
    text: str
    index: int


def parse_cmdline(text: str) -> list[Param]:
    """Split a command line the way the kernel does (double quotes group, no escapes)."""
    tokens: list[str] = []
    current: list[str] = []
    in_quotes = False
    started = False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
            started = True
            continue
        if ch.isspace() and not in_quotes:
            if started:
                tokens.append("".join(current))
                current, started = [], False
            continue
        current.append(ch)
        started = True
    if started:
        tokens.append("".join(current))
    params = []
    for i, tok in enumerate(tokens):
        key, sep, value = tok.partition("=")
        params.append(Param(key, value if sep else None, tok, i))
    return params


def kernel_params(params: list[Param]) -> list[Param]:
    """The parameters the kernel itself reads: everything after a bare ``--`` goes to init.

    >>> [p.text for p in kernel_params(parse_cmdline('quiet -- --init-arg x=1'))]
    ['quiet']
    """
    out: list[Param] = []
    for p in params:
        if p.text == "--":
            break
        out.append(p)
    return out


@record
class CmdlineLine:
    """One non-empty line of a command-line file, with its parameters."""

    line: int
    text: str
    params: tuple[Param, ...]


def parse_cmdline_file(text: str) -> list[CmdlineLine]:
    """A ``cmdline.txt`` or ``/etc/kernel/cmdline``: its non-empty lines, each split like
    ``/proc/cmdline``. The Raspberry Pi firmware uses the first line only.

    >>> lines = parse_cmdline_file('console=serial0,115200 rootwait\\n\\ncgroup_enable=memory\\n')
    >>> [(ln.line, [p.text for p in ln.params]) for ln in lines]
    [(1, ['console=serial0,115200', 'rootwait']), (3, ['cgroup_enable=memory'])]
    """
    out: list[CmdlineLine] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.count('"') % 2:
            raise ParseError("unbalanced double quote", lineno)
        out.append(CmdlineLine(lineno, line, tuple(parse_cmdline(line))))
    return out


def values_of(params: list[Param], key: str) -> list[str]:
    """All values of ``key`` in order; comma lists are split (``cgroup_disable=memory,cpuset``)."""
    out: list[str] = []
    for p in params:
        if p.key == key and p.value is not None:
            out.extend(v for v in p.value.split(",") if v)
    return out


@record
class GrubDefault:
    """The ``GRUB_CMDLINE_LINUX*`` and ``GRUB_ENABLE_BLSCFG`` assignments of
    ``/etc/default/grub``."""

    variables: dict[str, tuple[str, int, str]]  # name -> (value, line, text)


def parse_default_grub(text: str) -> GrubDefault:
    """Shell-style assignments; the ``GRUB_CMDLINE_LINUX`` family and ``GRUB_ENABLE_BLSCFG``
    (whether the Red Hat family's grub2-mkconfig writes BLS entries) are kept.

    >>> g = parse_default_grub('GRUB_TIMEOUT=5\\n'
    ...                        'GRUB_CMDLINE_LINUX="quiet cgroup_enable=memory"\\n'
    ...                        'GRUB_ENABLE_BLSCFG=true\\n')
    >>> g.variables['GRUB_CMDLINE_LINUX'][:2], g.variables['GRUB_ENABLE_BLSCFG'][0]
    (('quiet cgroup_enable=memory', 2), 'true')
    """
    variables: dict[str, tuple[str, int, str]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped.startswith(("GRUB_CMDLINE_LINUX", "GRUB_ENABLE_BLSCFG")):
            continue
        name, sep, raw = stripped.partition("=")
        if not sep:
            continue
        try:
            words = shlex.split(raw, comments=True, posix=True)
        except ValueError as exc:
            raise ParseError(f"{name}: {exc}", lineno) from None
        value = " ".join(words)
        # GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX more" appends; keep what is known.
        prior = variables.get(name.strip(), ("", 0, ""))[0]
        value = value.replace(f"${name.strip()}", prior).replace(f"${{{name.strip()}}}", prior)
        variables[name.strip()] = (value.strip(), lineno, line)
    return GrubDefault(variables)
