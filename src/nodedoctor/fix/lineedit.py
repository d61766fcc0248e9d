"""Format-preserving edits of line files the kernel's boot-time tools read: sysctl
configuration (sysctl.d(5)), modules-load.d(5) lists and ``/etc/fstab``.

Each editor changes only the lines it must (a value after ``=``, an appended line, a ``#``
before a line), re-parses its result with the parser the facts use and checks that nothing
else changed; what it cannot edit safely raises :class:`~nodedoctor.fix.textedit.EditError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nodedoctor.fix.textedit import EditError
from nodedoctor.i18n import _
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.fstab import parse_fstab
from nodedoctor.parsers.sysctl import (
    SysctlAssignment,
    normalize_key,
    parse_modules_load,
    parse_sysctl_conf,
)

_ASSIGNMENT = re.compile(
    r"^(?P<lead>\s*-?)(?P<key>[^=]+?)(?P<sep>\s*=\s*)(?P<value>.*?)(?P<tail>\s*)$"
)


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def set_sysctl(text: str | None, key: str, value: str, header: str = "") -> str:
    """``text`` (``None``: a new file, started with ``header``) with every assignment of
    ``key`` set to ``value``, or ``key = value`` appended.

    >>> print(set_sysctl("# mine\\nnet.ipv4.ip_forward=0\\nvm.swappiness = 10\\n",
    ...                  "net.ipv4.ip_forward", "1"), end="")
    # mine
    net.ipv4.ip_forward=1
    vm.swappiness = 10
    >>> print(set_sysctl(None, "net.ipv4.ip_forward", "1", "# nodedoctor\\n"), end="")
    # nodedoctor
    net.ipv4.ip_forward = 1
    >>> set_sysctl("x.y = 1\\n", "x.y", "1")
    'x.y = 1\\n'
    """
    before = _parse_sysctl(text or "")
    lines = _lines(text) if text else ([header] if header else [])
    changed = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        m = _ASSIGNMENT.match(line.rstrip("\n"))
        if m is None or normalize_key(m.group("key").lstrip("-")) != key:
            continue
        if m.group("value") != value:
            lines[i] = (
                f"{m.group('lead')}{m.group('key')}{m.group('sep')}{value}{m.group('tail')}\n"
            )
            changed = True
    if not any(a.key == key for a in before):
        lines.append(f"{key} = {value}\n")
        changed = True
    if not changed and text is not None:
        return text
    out = "".join(lines)
    after = _parse_sysctl(out)
    expected = [(a.key, value if a.key == key else a.value) for a in before]
    got = [(a.key, a.value) for a in after]
    if got[: len(expected)] != expected or [k for k, _ in got[len(expected) :]] not in (
        [],
        [key],
    ):
        raise EditError(_("setting {key} would change other assignments").format(key=key))
    return out


def _parse_sysctl(text: str) -> list[SysctlAssignment]:
    try:
        return parse_sysctl_conf(text)
    except ParseError as exc:
        raise EditError(
            _("it does not parse as a sysctl file: {error}").format(error=exc)
        ) from None


def add_module(text: str | None, module: str, header: str = "") -> str:
    """``text`` (``None``: a new file, started with ``header``) listing ``module`` (``-`` and
    ``_`` are the same in a module name, as modprobe takes them).

    >>> add_module("overlay\\n", "br_netfilter")
    'overlay\\nbr_netfilter\\n'
    >>> add_module("br-netfilter\\n", "br_netfilter")
    'br-netfilter\\n'
    """
    try:
        listed = [m for m, _ in parse_modules_load(text or "")]
    except ParseError as exc:
        raise EditError(
            _("it does not parse as a modules-load.d file: {error}").format(error=exc)
        ) from None
    if any(m.replace("-", "_") == module.replace("-", "_") for m in listed):
        return text or ""
    lines = _lines(text) if text else ([header] if header else [])
    out = "".join([*lines, f"{module}\n"])
    if [m for m, _ in parse_modules_load(out)] != [*listed, module]:
        raise EditError(_("adding {module} would change other lines").format(module=module))
    return out


def comment_fstab_lines(text: str, lines: Sequence[tuple[int, str]]) -> str:
    """``text`` with each of ``lines`` (number, stripped text) commented out with ``#``.

    >>> print(comment_fstab_lines("UUID=1 / ext4 defaults 0 1\\n/swap.img none swap sw 0 0\\n",
    ...                           [(2, "/swap.img none swap sw 0 0")]), end="")
    UUID=1 / ext4 defaults 0 1
    # /swap.img none swap sw 0 0
    """
    try:
        before = parse_fstab(text)
    except ParseError as exc:
        raise EditError(_("it does not parse as an fstab: {error}").format(error=exc)) from None
    out = _lines(text)
    for number, expected in lines:
        if not 1 <= number <= len(out) or out[number - 1].strip() != expected:
            raise EditError(
                _("line {line} no longer reads {text!r}").format(line=number, text=expected)
            )
        out[number - 1] = "# " + out[number - 1]
    result = "".join(out)
    gone = {n for n, _ in lines}
    after = parse_fstab(result)
    if [(e.line, e.text) for e in after] != [
        (e.line, e.text) for e in before if e.line not in gone
    ]:
        raise EditError(_("commenting the swap lines would change other lines"))
    return result
