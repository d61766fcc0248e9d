"""AppArmor as it concerns container runtimes: does it confine runc/crun, and has the kernel
denied a runtime's signals?

AppArmor 4.0 (Ubuntu 23.10+, 24.04) ships ``/etc/apparmor.d/runc``
(``profile runc /usr/sbin/runc flags=(unconfined)``), so runc carries the label ``runc``
instead of ``unconfined``; a container profile that accepts signals only from ``unconfined``
then denies ``runc kill`` (research/runtimes.md §4). The denial is in the kernel log
(``/var/log/kern.log``, ``/var/log/syslog``, ``journalctl -k``) or, with auditd, in
``/var/log/audit/audit.log``. Logs are read bounded: the last :data:`LOG_TAIL_BYTES` of each.
"""

from __future__ import annotations

import fnmatch

from nodedoctor._record import record
from nodedoctor.facts import Facts, file_evidence
from nodedoctor.facts.packages import Installed, packages
from nodedoctor.model import Evidence
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.apparmor import (
    Denial,
    ProfileHeader,
    last_boot_line,
    parse_denials,
    parse_loaded_profiles,
    parse_profile_header,
)

#: Logs that carry kernel audit records, best first.
LOG_FILES = ("/var/log/kern.log", "/var/log/syslog", "/var/log/audit/audit.log")
LOG_TAIL_BYTES = 8 * 1024 * 1024
JOURNAL_COMMAND = "journalctl-kernel"

#: The runtime helpers AppArmor 4 confines under a profile of the same name.
CONFINED_HELPERS = ("runc", "crun")
#: Where the helpers are installed: Ubuntu's runc package, Docker's containerd.io, crun.
HELPER_BINARIES = {
    "runc": ("/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"),
    "crun": ("/usr/bin/crun", "/usr/local/bin/crun"),
}
LOADED_PROFILES = "/sys/kernel/security/apparmor/profiles"


@record
class HelperProfile:
    """``/etc/apparmor.d/<helper>``: the AppArmor 4 profile that labels runc or crun."""

    helper: str
    path: str
    header: ProfileHeader | None
    #: ``/etc/apparmor.d/disable/<helper>`` exists: the profile is not loaded at boot.
    disabled: bool
    #: The helper's binaries present on the node that the attach path covers.
    confines: tuple[str, ...]

    @property
    def evidence(self) -> Evidence:
        if self.header is not None:
            return file_evidence(self.path, self.header.text, self.header.line)
        return file_evidence(self.path, "(no profile declaration found)")


@record
class SignalDenial:
    """A denied signal to a container whose sender was a confined runtime helper."""

    source: str
    denial: Denial
    #: The line number counts from the start of the file (not from a tail, nor a command).
    numbered: bool = True

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.source, self.denial.text, self.denial.line if self.numbered else None)


@record
class AppArmorFacts:
    version: Installed | None
    profiles: tuple[HelperProfile, ...]
    #: Loaded profiles (name -> mode) from the kernel; ``None`` when unreadable.
    loaded: dict[str, str] | None
    #: ``Y``/``N`` from ``/sys/module/apparmor/parameters/enabled``; ``None`` when unknown.
    enabled: bool | None
    #: Denials since the current boot (after the last boot marker of a log that spans boots;
    #: ``journalctl -k -b`` shows only the current boot).
    denials: tuple[SignalDenial, ...]
    #: Denials logged before the last boot: the profile may have been fixed since.
    earlier_boot_denials: tuple[SignalDenial, ...]
    #: Logs that were read (a missing one is not listed).
    logs_read: tuple[str, ...]

    def confining(self) -> list[HelperProfile]:
        """Helper profiles that label an installed helper binary and are not disabled (nor
        known to be unloaded)."""
        out = []
        for p in self.profiles:
            if p.disabled or not p.confines:
                continue
            if (
                self.loaded is not None
                and p.header is not None
                and p.header.name not in self.loaded
            ):
                continue
            out.append(p)
        return out


def _helper_profile(facts: Facts, helper: str) -> HelperProfile | None:
    path = f"/etc/apparmor.d/{helper}"
    text = facts.read(path)
    if text is None:
        return None
    try:
        header: ProfileHeader | None = parse_profile_header(text)
    except ParseError:
        header = None
    disabled = facts.root.exists(f"/etc/apparmor.d/disable/{helper}")
    confines: list[str] = []
    if header is not None:
        for binary in HELPER_BINARIES[helper]:
            if facts.root.exists(binary) and any(
                fnmatch.fnmatchcase(binary, pattern) for pattern in header.attach_paths()
            ):
                confines.append(binary)
    return HelperProfile(helper, path, header, disabled, tuple(confines))


def _is_runtime_signal_denial(d: Denial) -> bool:
    return d.operation == "signal" and (d.peer in CONFINED_HELPERS)


def apparmor_facts(facts: Facts) -> AppArmorFacts:
    profiles = [p for p in (_helper_profile(facts, h) for h in CONFINED_HELPERS) if p is not None]
    loaded_text = facts.read(LOADED_PROFILES)
    loaded = parse_loaded_profiles(loaded_text) if loaded_text is not None else None
    enabled_text = facts.read("/sys/module/apparmor/parameters/enabled")
    enabled = None if enabled_text is None else enabled_text.strip().upper().startswith("Y")

    denials: list[SignalDenial] = []
    earlier: list[SignalDenial] = []
    logs_read: list[str] = []
    for path in LOG_FILES:
        result = facts.root.read_tail(path, LOG_TAIL_BYTES)
        if result is None:
            continue
        logs_read.append(path)
        boot = last_boot_line(result.text)
        for d in parse_denials(result.text):
            if _is_runtime_signal_denial(d):
                found = SignalDenial(path, d, numbered=not result.truncated)
                (denials if d.line > boot else earlier).append(found)
    journal = facts.root.run(JOURNAL_COMMAND)
    if journal is not None and journal.ok:
        logs_read.append(journal.display)
        denials += [
            SignalDenial(journal.display, d, numbered=False)
            for d in parse_denials(journal.stdout)
            if _is_runtime_signal_denial(d)
        ]
    return AppArmorFacts(
        version=facts.get(packages).get("apparmor"),
        profiles=tuple(profiles),
        loaded=loaded,
        enabled=enabled,
        denials=tuple(denials),
        earlier_boot_denials=tuple(earlier),
        logs_read=tuple(logs_read),
    )
