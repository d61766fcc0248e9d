"""AppArmor: kernel/audit log denials, profile files and the kernel's loaded profiles.

A denial as the kernel logs it (``/var/log/kern.log``, ``journalctl -k``) and as auditd
writes it (``/var/log/audit/audit.log``, ``type=AVC``):

>>> line = ('Jun  3 10:12:01 node1 kernel: [ 812.1] audit: type=1400 audit(1717409521.1:201): '
...         'apparmor="DENIED" operation="signal" class="signal" '
...         'profile="cri-containerd.apparmor.d" pid=4121 comm="runc" requested_mask="receive" '
...         'denied_mask="receive" signal=kill peer="runc"')
>>> d = parse_denials(line)[0]
>>> d.operation, d.profile, d.peer, d.signal, d.line
('signal', 'cri-containerd.apparmor.d', 'runc', 'kill', 1)
>>> parse_denials('apparmor="ALLOWED" operation="signal" peer="runc"')
[]

The profile line of ``/etc/apparmor.d/runc`` (AppArmor 4):

>>> p = parse_profile_header('abi <abi/4.0>,\\ninclude <tunables/global>\\n\\n'
...                          'profile runc /usr/sbin/runc flags=(unconfined) {\\n  userns,\\n}\\n')
>>> p.name, p.attach, p.line, p.attach_paths()
('runc', '/usr/sbin/runc', 4, ('/usr/sbin/runc',))
>>> parse_profile_header('profile runc /usr/{bin,sbin}/runc flags=(unconfined) {').attach_paths()
('/usr/bin/runc', '/usr/sbin/runc')

Where the current boot starts in a log that spans boots (the kernel's banner; auditd's start
in ``audit.log``):

>>> last_boot_line('Jun  2 kernel: noise\\nJun  3 10:02:11 n1 kernel: [    0.000000] Linux '
...                'version 6.8.0-31-generic (buildd@lcy02)\\nJun  3 later\\n')
2
>>> last_boot_line('type=DAEMON_START msg=audit(1717408933.001:4321): op=start ver=3.1.2\\n')
1
>>> last_boot_line('no banner\\n')
0

``/sys/kernel/security/apparmor/profiles``:

>>> parse_loaded_profiles('runc (unconfined)\\ncri-containerd.apparmor.d (enforce)\\n')
{'runc': 'unconfined', 'cri-containerd.apparmor.d': 'enforce'}
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

#: ``key=value`` or ``key="value"`` pairs of an AppArmor audit record.
_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


@record
class Denial:
    """One ``apparmor="DENIED"`` record."""

    operation: str
    profile: str
    peer: str | None
    comm: str | None
    signal: str | None
    requested_mask: str | None
    line: int
    text: str


def _fields(line: str) -> dict[str, str]:
    start = line.find('apparmor="')
    out: dict[str, str] = {}
    for m in _PAIR.finditer(line, max(start, 0)):
        value = m.group(2)
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        out.setdefault(m.group(1), value)
    return out


def parse_denials(text: str) -> list[Denial]:
    """Every AppArmor denial in a log, with its 1-based line number. Other lines are ignored:
    a log is not a format that can be malformed."""
    out: list[Denial] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if 'apparmor="DENIED"' not in line:
            continue
        fields = _fields(line)
        out.append(
            Denial(
                operation=fields.get("operation", ""),
                profile=fields.get("profile", ""),
                peer=fields.get("peer"),
                comm=fields.get("comm"),
                signal=fields.get("signal"),
                requested_mask=fields.get("requested_mask"),
                line=lineno,
                text=line.strip(),
            )
        )
    return out


@record
class ProfileHeader:
    """The ``profile NAME ATTACH flags=(...) {`` line of a profile file."""

    name: str
    attach: str | None
    flags: tuple[str, ...]
    line: int
    text: str

    def attach_paths(self) -> tuple[str, ...]:
        """The attach path with AppArmor's ``{a,b}`` alternation expanded."""
        if not self.attach:
            return ()
        m = re.search(r"\{([^{}]*)\}", self.attach)
        if not m:
            return (self.attach,)
        head, tail = self.attach[: m.start()], self.attach[m.end() :]
        return tuple(sorted(f"{head}{alt}{tail}" for alt in m.group(1).split(",")))


_HEADER = re.compile(
    r"^\s*profile\s+(?P<name>\S+)(?:\s+(?P<attach>/\S+))?(?:\s+flags=\((?P<flags>[^)]*)\))?\s*\{"
)


def parse_profile_header(text: str) -> ProfileHeader:
    """The first ``profile`` declaration of a profile file."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        m = _HEADER.match(line)
        if m:
            flags = tuple(f.strip() for f in (m.group("flags") or "").split(",") if f.strip())
            return ProfileHeader(m.group("name"), m.group("attach"), flags, lineno, line.strip())
    raise ParseError("no 'profile NAME ... {' declaration found")


_BOOT_MARKERS = (
    re.compile(r"kernel: (?:\[\s*0\.0+\] )?Linux version \d"),
    re.compile(r"^type=DAEMON_START "),
)


def last_boot_line(text: str) -> int:
    """1-based line of the last boot marker in a log, 0 when the log shows none."""
    last = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if ("Linux version" in line or line.startswith("type=DAEMON_START")) and any(
            m.search(line) for m in _BOOT_MARKERS
        ):
            last = lineno
    return last


def parse_loaded_profiles(text: str) -> dict[str, str]:
    """``name (mode)`` lines: profile name -> mode (``enforce``, ``complain``, ``unconfined``)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = re.match(r"^(.*\S)\s+\((\w+)\)$", line)
        if m:
            out[m.group(1)] = m.group(2)
        else:
            out[line] = ""
    return out
