"""The kernel command line the running kernel got (``/proc/cmdline``), each parameter placed
at its file, line and position, and what the kernel said about its cgroup parameters at boot.
"""

from __future__ import annotations

from collections.abc import Iterable

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.model import Evidence
from nodedoctor.parsers.cmdline import Param, kernel_params, parse_cmdline

PROC_CMDLINE = "/proc/cmdline"

#: Parameters that decide which cgroup controllers and hierarchy the node gets. Only these
#: are compared between a file and /proc/cmdline (the Pi firmware rewrites others, e.g.
#: ``console=serial0,115200`` appears as ``console=ttyS0,115200``).
RELEVANT_KEYS = frozenset(
    {
        "cgroup_enable",
        "cgroup_disable",
        "cgroup_memory",
        "cgroup_no_v1",
        "systemd.unified_cgroup_hierarchy",
        "systemd.legacy_systemd_cgroup_controller",
        "swapaccount",
    }
)


@record
class PlacedParam:
    """One parameter of a command line, where it is written."""

    key: str
    value: str | None
    text: str
    source: str
    line: int | None
    #: 1-based position among the parameters of its command line (for GRUB: of
    #: GRUB_CMDLINE_LINUX followed by GRUB_CMDLINE_LINUX_DEFAULT).
    position: int
    variable: str | None = None
    line_text: str = ""

    @property
    def relevant(self) -> bool:
        return self.key in RELEVANT_KEYS

    @property
    def values(self) -> tuple[str, ...]:
        """Comma-separated values (``cgroup_disable=memory,cpuset``)."""
        return tuple(v for v in (self.value or "").split(",") if v)

    def evidence(self, note: str = "") -> Evidence:
        text = self.line_text.strip() if self.line_text else self.text
        if self.source == PROC_CMDLINE:
            text = f"{self.text} (parameter {self.position})"
        return Evidence(self.source, f"{text}{note}", self.line)


def placed_params(
    params: Iterable[Param],
    source: str,
    line: int | None,
    line_text: str,
    *,
    start: int = 1,
    variable: str | None = None,
) -> list[PlacedParam]:
    """``params`` as written on ``line`` of ``source``, numbered from ``start``."""
    return [
        PlacedParam(
            key=p.key,
            value=p.value,
            text=p.text,
            source=source,
            line=line,
            position=start + i,
            variable=variable,
            line_text=line_text,
        )
        for i, p in enumerate(params)
    ]


@record
class KernelCmdline:
    """``/proc/cmdline``: the parameters the running kernel booted with (before ``--``)."""

    text: str
    params: tuple[PlacedParam, ...]

    @property
    def evidence(self) -> Evidence:
        return Evidence(PROC_CMDLINE, self.text.strip())

    @property
    def relevant(self) -> tuple[PlacedParam, ...]:
        return tuple(p for p in self.params if p.relevant)


def kernel_cmdline(facts: Facts) -> KernelCmdline | None:
    text = facts.read(PROC_CMDLINE)
    if text is None:
        return None
    line = text.strip()
    params = kernel_params(parse_cmdline(line))
    return KernelCmdline(text=line, params=tuple(placed_params(params, PROC_CMDLINE, None, line)))


# --------------------------------------------------------------------------------------
# what the kernel said about its command line at boot (live and bundles only)

KERNEL_LOG_COMMAND = "journalctl-kernel"
_BOOT_MESSAGES = (
    "Unknown kernel command line parameters",
    "cgroup: Disabling ",
    "cgroup: Enabling ",
)


def cgroup_boot_messages(facts: Facts) -> tuple[Evidence, ...]:
    """The kernel's own words about cgroup parameters this boot: ``cgroup: Disabling memory
    control group subsystem``, ``Unknown kernel command line parameters "..."`` (research
    incidents.md §1). Empty offline or when the journal cannot be read."""
    result = facts.root.run(KERNEL_LOG_COMMAND)
    if result is None or not result.ok:
        return ()
    found: list[Evidence] = []
    for line in result.stdout.splitlines():
        if any(m in line for m in _BOOT_MESSAGES) and (
            "cgroup" in line or "Unknown kernel command line" in line
        ):
            found.append(Evidence(result.display, line.strip()))
    return tuple(found)
