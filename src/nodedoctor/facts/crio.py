"""CRI-O as it will run: ``/etc/crio/crio.conf`` then ``/etc/crio/crio.conf.d/*.conf`` in
lexical order, the last file that sets a key winning (docs/crio.conf.d.5.md), and what CRI-O
makes of ``cgroup_manager`` and ``conmon_cgroup`` / ``monitor_cgroup`` (research runtimes.md §2).

* ``cgroup_manager`` defaults to ``systemd``.
* systemd: the monitor cgroup must be ``pod`` or end in ``.slice`` (empty becomes
  ``system.slice``); otherwise CRI-O fails: ``conmon cgroup should be 'pod' or a systemd slice``.
* cgroupfs: it must be ``pod`` or empty; otherwise CRI-O fails with ``cgroupfs manager conmon
  cgroup should be 'pod' or empty`` - except ``system.slice``, which CRI-O >= 1.33 clears itself.
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.packages import packages
from nodedoctor.facts.versions import Version
from nodedoctor.model import Evidence
from nodedoctor.parsers.crio import CrioConfigFile, parse_crio_config

MAIN = "/etc/crio/crio.conf"
DROP_INS = "/etc/crio/crio.conf.d"
SOCKET = "unix:///var/run/crio/crio.sock"
RUNTIME: tuple[str, ...] = ("crio", "runtime")


@record
class MonitorCgroupProblem:
    handler: str | None  # None: the global conmon_cgroup
    value: str
    message: str
    evidence: Evidence
    file: str


@record
class CrioFacts:
    present: bool
    version: Sourced[Version] | None
    files: tuple[str, ...]
    cgroup_manager: Sourced[str] | None
    conmon_cgroup: Sourced[str] | None
    problems: tuple[MonitorCgroupProblem, ...]
    unknown: str | None = None

    @property
    def implements_runtime_config(self) -> bool | None:
        return None if self.version is None else self.version.value >= (1, 28)


def _files(facts: Facts) -> list[tuple[str, CrioConfigFile]]:
    out: list[tuple[str, CrioConfigFile]] = []
    for path in [MAIN, *facts.root.glob(DROP_INS, "*.conf")]:
        parsed = facts.parse(path, parse_crio_config)
        if parsed is not None:
            out.append((path, parsed))
    return out


def _last(files: list[tuple[str, CrioConfigFile]], path: tuple[str, ...]) -> Sourced[str] | None:
    found: Sourced[str] | None = None
    for name, conf in files:
        value = conf.get(path)
        if isinstance(value, str):
            where = conf.locate(path)
            ev = (
                file_evidence(name, where.text, where.line)
                if where
                else Evidence(name, f"{path[-1]} = {value!r}")
            )
            found = Sourced(value, ev)
    return found


def _check(manager: str, value: str, version: Version | None) -> str | None:
    if manager == "systemd":
        if value in ("", "pod") or value.endswith(".slice"):
            return None
        return "conmon cgroup should be 'pod' or a systemd slice"
    if value in ("", "pod"):
        return None
    if value == "system.slice" and version is not None and version >= (1, 33):
        return None  # CRI-O 1.33+ clears it for cgroupfs
    return f"cgroupfs manager conmon cgroup should be 'pod' or empty, but got: '{value}'"


def crio_facts(facts: Facts) -> CrioFacts:
    item = facts.get(packages).get("cri-o")
    version = Sourced(item.version, item.evidence) if item and item.version else None
    files = _files(facts)
    names = tuple(n for n, _ in files)
    failed = [p for p in [MAIN, *facts.root.glob(DROP_INS, "*.conf")] if facts.parse_failed(p)]
    present = bool(files) or item is not None or bool(failed)
    if failed:
        return CrioFacts(present, version, names, None, None, (), f"{failed[0]} cannot be parsed")
    if not present:
        return CrioFacts(False, version, names, None, None, ())
    manager = _last(files, (*RUNTIME, "cgroup_manager")) or Sourced(
        "systemd",
        Evidence(
            MAIN if not names else names[-1], "cgroup_manager is not set; CRI-O defaults to systemd"
        ),
    )
    conmon = _last(files, (*RUNTIME, "conmon_cgroup"))
    problems: list[MonitorCgroupProblem] = []
    v = version.value if version else None
    if conmon is not None:
        why = _check(manager.value, conmon.value, v)
        if why:
            problems.append(
                MonitorCgroupProblem(
                    None, conmon.value, why, conmon.evidence, conmon.evidence.source
                )
            )
    handlers: set[str] = set()
    for _, conf in files:
        runtimes = conf.get((*RUNTIME, "runtimes"))
        if isinstance(runtimes, dict):
            handlers.update(runtimes)
    for h in sorted(handlers):
        mon = _last(files, (*RUNTIME, "runtimes", h, "monitor_cgroup"))
        if mon is not None:
            why = _check(manager.value, mon.value, v)
            if why:
                problems.append(
                    MonitorCgroupProblem(h, mon.value, why, mon.evidence, mon.evidence.source)
                )
    return CrioFacts(True, version, names, manager, conmon, tuple(problems))
