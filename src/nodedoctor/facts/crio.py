"""CRI-O as it will run: ``/etc/crio/crio.conf`` then ``/etc/crio/crio.conf.d/*.conf`` in
lexical order, the last file that sets a key winning (docs/crio.conf.d.5.md), and what CRI-O
makes of ``cgroup_manager`` and ``conmon_cgroup`` / ``monitor_cgroup`` (research runtimes.md §2).

* ``cgroup_manager`` defaults to ``systemd``.
* systemd: the monitor cgroup must be ``pod`` or end in ``.slice`` (empty becomes
  ``system.slice``); otherwise CRI-O fails: ``conmon cgroup should be 'pod' or a systemd slice``.
* cgroupfs: it must be ``pod`` or empty; otherwise CRI-O fails with ``cgroupfs manager conmon
  cgroup should be 'pod' or empty`` - except ``system.slice``, which CRI-O >= 1.33 clears itself.
  CRI-O 1.25.1-1.32 also give an *unset* monitor cgroup the default ``system.slice`` before
  that check (``TranslateMonitorFieldsForHandler``: "If empty, assume default", moved ahead of
  it by cri-o 570a4c1b93, e7e8493590 in 1.25.1), so cgroupfs without ``conmon_cgroup`` fails
  to start; 1.33.0 defaults it for systemd only (cri-o a4c67cc6c2).
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.packages import packages
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence
from nodedoctor.parsers.crio import CrioConfigFile, parse_crio_config

MAIN = "/etc/crio/crio.conf"
DROP_INS = "/etc/crio/crio.conf.d"
SOCKET = "unix:///var/run/crio/crio.sock"
RUNTIME: tuple[str, ...] = ("crio", "runtime")


#: CRI-O releases that turn an unset monitor cgroup into ``system.slice`` even with cgroupfs.
UNSET_REFUSED = ((1, 25, 1), (1, 33, 0))
#: Marked for translation: rules/crio_conmon_cgroup_invalid.py shows it with ``_()``.
UNSET_REFUSED_TEXT = N_("CRI-O 1.25.1 to 1.32")


@record
class MonitorCgroupProblem:
    handler: str | None  # None: the global conmon_cgroup
    value: str
    message: str
    evidence: Evidence
    #: The file to set it in.
    file: str
    #: ``None``: CRI-O refuses it. Otherwise the releases that refuse it (CRI-O's version is
    #: unknown): an unset conmon_cgroup with cgroupfs, :data:`UNSET_REFUSED_TEXT`.
    versions: str | None = None
    #: The evidence beside ``evidence`` (the cgroup_manager line, the handlers left unset).
    also: tuple[Evidence, ...] = ()


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
    for path in [MAIN, *facts.drop_ins(DROP_INS, "*.conf")]:
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
    read = [MAIN, DROP_INS, *facts.drop_ins(DROP_INS, "*.conf")]
    failed = [p for p in read if facts.parse_failed(p)]
    present = bool(files) or item is not None or bool(failed)
    if failed:
        unparsed = _("{path} cannot be parsed").format(path=failed[0])
        return CrioFacts(present, version, names, None, None, (), unparsed)
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
    for _path, conf in files:
        runtimes = conf.get((*RUNTIME, "runtimes"))
        if isinstance(runtimes, dict):
            handlers.update(runtimes)
    unset: list[str] = []
    for h in sorted(handlers):
        mon = _last(files, (*RUNTIME, "runtimes", h, "monitor_cgroup"))
        if mon is not None:
            why = _check(manager.value, mon.value, v)
            if why:
                problems.append(
                    MonitorCgroupProblem(h, mon.value, why, mon.evidence, mon.evidence.source)
                )
        elif _oci(files, h):
            unset.append(h)
    if manager.value == "cgroupfs" and conmon is None and (unset or not handlers):
        problem = _unset_monitor(manager, unset, v)
        if problem is not None:
            problems.append(problem)
    return CrioFacts(True, version, names, manager, conmon, tuple(problems))


def _oci(files: list[tuple[str, CrioConfigFile]], handler: str) -> bool:
    """Whether CRI-O translates the handler's monitor fields: ``runtime_type`` oci or unset
    (a VM runtime's conmon is not CRI-O's)."""
    kind = _last(files, (*RUNTIME, "runtimes", handler, "runtime_type"))
    return kind is None or kind.value in ("", "oci")


def _unset_monitor(
    manager: Sourced[str], unset: list[str], version: Version | None
) -> MonitorCgroupProblem | None:
    """cgroupfs with ``conmon_cgroup`` unset and ``oci`` handlers without ``monitor_cgroup``
    (or none in the files: CRI-O's built-in one): refused by :data:`UNSET_REFUSED`."""
    low, high = UNSET_REFUSED
    if version is not None and not (low <= version.release < high):
        return None
    which = f"runtime handlers {', '.join(unset)}" if unset else "the built-in runtime handler"
    source = manager.evidence.source
    return MonitorCgroupProblem(
        handler=None,
        value="",
        message="cgroupfs manager conmon cgroup should be 'pod' or empty",
        evidence=manager.evidence,
        file=source,
        versions=None if version is not None else UNSET_REFUSED_TEXT,
        also=(
            Evidence(
                source,
                f"conmon_cgroup is not set (nor monitor_cgroup of the {which}): "
                f"{UNSET_REFUSED_TEXT} default it to system.slice",
            ),
        ),
    )
