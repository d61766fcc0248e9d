"""What the cgroup hierarchy gives the kubelet: mode, controllers, and why one is missing.

``cgroup_facts`` reads the hierarchy; ``controller_analysis`` says which controllers the
kubelet needs are missing and why (a ``cgroup_disable=`` parameter and its position, the
Raspberry Pi default, ``cgroup_no_v1=``, a kernel built without it).

The mode is judged as the kubelet judges it (opencontainers/cgroups ``IsCgroup2UnifiedMode``:
the filesystem type at ``/sys/fs/cgroup``), so hybrid counts as v1.
"""

from __future__ import annotations

import enum

from nodedoctor._record import field, record
from nodedoctor.facts import Facts, Sourced, file_evidence
from nodedoctor.facts.boot import (
    ControllerVerdict,
    PlacedParam,
    boot_chain,
    controller_verdict,
    kernel_cmdline,
    no_v1_token,
)
from nodedoctor.facts.kernelconfig import kernel_config
from nodedoctor.facts.mounts import mount_table
from nodedoctor.facts.system import board
from nodedoctor.i18n import _
from nodedoctor.model import Evidence
from nodedoctor.parsers.proc_cgroups import ControllerRow, parse_proc_cgroups

CGROUP_ROOT = "/sys/fs/cgroup"


class CgroupMode(enum.Enum):
    V1 = "v1"
    HYBRID = "hybrid"
    V2 = "v2"

    @property
    def kubelet_sees_v2(self) -> bool:
        return self is CgroupMode.V2


@record
class V1Hierarchy:
    """One v1 hierarchy: the controllers it carries and where it is mounted."""

    controllers: tuple[str, ...]
    mount_point: str
    line: int
    text: str


@record
class CgroupFacts:
    mode: CgroupMode | None
    mode_evidence: Evidence | None
    #: v2: the fields of the root ``cgroup.controllers``; ``None`` when unknown.
    v2_root_controllers: Sourced[tuple[str, ...]] | None
    #: v2: the root's ``cgroup.subtree_control``.
    v2_root_subtree_control: Sourced[tuple[str, ...]] | None
    #: ``/proc/cgroups`` rows (v1 view of the kernel), empty when absent.
    proc_cgroups: tuple[ControllerRow, ...]
    proc_cgroups_known: bool
    #: v1 hierarchies mounted, by controller name (``name=systemd`` as ``systemd``).
    v1_mounts: dict[str, V1Hierarchy] = field(default_factory=dict)
    root_cpu_stat: bool | None = None

    def available(self) -> dict[str, tuple[bool, Evidence]] | None:
        """Which controllers the kernel gives, by name, each with its evidence;
        ``None`` when nothing tells."""
        out: dict[str, tuple[bool, Evidence]] = {}
        if self.mode is CgroupMode.V2:
            if self.v2_root_controllers is None:
                return None
            for name in _KNOWN_CONTROLLERS:
                out[name] = (
                    name in self.v2_root_controllers.value,
                    self.v2_root_controllers.evidence,
                )
            return out
        if not self.proc_cgroups_known:
            return None
        for row in self.proc_cgroups:
            out[row.name] = (row.enabled, Evidence("/proc/cgroups", row.text, row.line))
        return out


_KNOWN_CONTROLLERS = ("cpu", "cpuset", "memory", "pids", "hugetlb", "io", "rdma", "misc")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def cgroup_facts(facts: Facts) -> CgroupFacts:
    table = facts.get(mount_table)
    mode: CgroupMode | None = None
    mode_evidence: Evidence | None = None
    v1_mounts: dict[str, V1Hierarchy] = {}
    top = table.at(CGROUP_ROOT)
    if top is not None:
        mode_evidence = Evidence(table.source or "mountinfo", top.text, top.line)
        if top.fstype == "cgroup2":
            mode = CgroupMode.V2
        elif top.fstype == "tmpfs":
            unified = table.at(f"{CGROUP_ROOT}/unified")
            mode = CgroupMode.HYBRID if unified and unified.fstype == "cgroup2" else CgroupMode.V1
    for m in table.of_type("cgroup"):
        if not m.mount_point.startswith(CGROUP_ROOT + "/"):
            continue
        names = [o for o in m.super_options if o not in ("rw", "ro") and "=" not in o]
        names += [o.split("=", 1)[1] for o in m.super_options if o.startswith("name=")]
        for name in names:
            current = v1_mounts.get(name)
            # The kubelet keeps the shortest mount point per subsystem.
            if current is None or len(m.mount_point) < len(current.mount_point):
                v1_mounts[name] = V1Hierarchy(
                    controllers=tuple(names), mount_point=m.mount_point, line=m.line, text=m.text
                )

    root_controllers: Sourced[tuple[str, ...]] | None = None
    subtree: Sourced[tuple[str, ...]] | None = None
    cpu_stat: bool | None = None
    controllers_path = f"{CGROUP_ROOT}/cgroup.controllers"
    text = facts.read(controllers_path)
    if mode is None and text is not None:
        # No mount table (a bare image or a minimal bundle): v2 iff the root file is there,
        # the rule runc documents.
        mode = CgroupMode.V2
        mode_evidence = file_evidence(controllers_path, text or "(empty)")
    if mode is CgroupMode.V2:
        if text is not None:
            root_controllers = Sourced(_words(text), file_evidence(controllers_path, text, 1))
        sub_path = f"{CGROUP_ROOT}/cgroup.subtree_control"
        sub = facts.read(sub_path)
        if sub is not None:
            subtree = Sourced(_words(sub), file_evidence(sub_path, sub or "(empty)", 1))
        if root_controllers is not None:
            cpu_stat = facts.root.exists(f"{CGROUP_ROOT}/cpu.stat")

    rows = facts.parse("/proc/cgroups", parse_proc_cgroups)
    return CgroupFacts(
        mode=mode,
        mode_evidence=mode_evidence,
        v2_root_controllers=root_controllers,
        v2_root_subtree_control=subtree,
        proc_cgroups=tuple(rows or ()),
        proc_cgroups_known=rows is not None,
        v1_mounts=v1_mounts,
        root_cpu_stat=cpu_stat,
    )


# --------------------------------------------------------------------------------------
# Why a controller is not available (research incidents.md §1, kubelet-cgroups.md §1.2-1.3)


class Cause(enum.Enum):
    #: A ``cgroup_disable=`` (or ``cgroup_memory=0``) parameter is the last word about it.
    CMDLINE_DISABLED = "cmdline-disabled"
    #: Raspberry Pi kernels turn memcg off by default (no parameter says so).
    RPI_DEFAULT = "rpi-default"
    #: The last word is ``cgroup_enable=``/``cgroup_memory=1`` and the kernel ignored it.
    ENABLE_IGNORED = "enable-ignored"
    #: ``cgroup_no_v1=`` keeps it off the v1 hierarchies the kubelet uses.
    NO_V1 = "cgroup-no-v1"
    #: The kernel was built without it.
    NOT_BUILT = "not-built"
    #: v1: the kernel has it but no hierarchy is mounted for it.
    NOT_MOUNTED = "not-mounted"
    UNKNOWN = "unknown"


@record
class ControllerStatus:
    name: str
    available: bool
    #: The file lines that tell it (root cgroup.controllers, a /proc/cgroups row, a mount).
    evidence: tuple[Evidence, ...]
    cause: Cause | None = None
    #: One sentence naming the cause for people.
    cause_text: str = ""
    #: The command-line parameters about it, in order, and the one that won.
    tokens: tuple[PlacedParam, ...] = ()
    winner: PlacedParam | None = None
    #: Evidence of the cause beyond the tokens (kernel config lines, the board model).
    cause_evidence: tuple[Evidence, ...] = ()


#: What the kubelet needs from the kernel (kubelet-cgroups.md §1.2, §1.3): on v2 cpu, cpuset,
#: memory and pids (hugetlb only when the kernel has it, so never missing); on v1 also
#: cpuacct (``Following Cgroup subsystem not mounted``).
NEEDED_V2 = ("cpu", "cpuset", "memory", "pids")
NEEDED_V1 = ("cpu", "cpuacct", "cpuset", "memory", "pids")
#: On v1 the kubelet requires these to be mounted (validateSystemRequirements); pids must only
#: be enabled in /proc/cgroups (kubeadm SystemVerification), the kubelet skips it unmounted.
MOUNTED_V1 = ("cpu", "cpuacct", "cpuset", "memory")


@record
class ControllerAnalysis:
    mode: CgroupMode | None
    #: Why nothing can be said (mode or controllers unknown); empty when known.
    unknown_reason: str
    statuses: dict[str, ControllerStatus]
    needed: tuple[str, ...]

    @property
    def known(self) -> bool:
        return not self.unknown_reason

    def missing(self) -> list[ControllerStatus]:
        """The needed controllers the kernel does not give, in kubelet order."""
        return [self.statuses[n] for n in self.needed if not self.statuses[n].available]


def controller_analysis(facts: Facts) -> ControllerAnalysis:
    """Which controllers the kubelet needs are available, and for each that is not, why.

    On v2 only the root ``cgroup.controllers`` is trusted: Linux >= 6.11/6.12 built without
    ``CONFIG_MEMCG_V1`` no longer lists ``memory`` in ``/proc/cgroups`` although v2 memory
    works (commits e93d4166b40a, af000ce85293)."""
    cg = facts.get(cgroup_facts)
    if cg.mode is None:
        return ControllerAnalysis(
            mode=None,
            unknown_reason=_("the cgroup mode cannot be told from this root"),
            statuses={},
            needed=(),
        )
    v1 = cg.mode is not CgroupMode.V2
    needed = NEEDED_V1 if v1 else NEEDED_V2
    seen: dict[str, tuple[bool, tuple[Evidence, ...]]] = {}
    if not v1:
        if cg.v2_root_controllers is None:
            return ControllerAnalysis(
                mode=cg.mode,
                unknown_reason=_("{path} is not in this root").format(
                    path="/sys/fs/cgroup/cgroup.controllers"
                ),
                statuses={},
                needed=needed,
            )
        for name in needed:
            present = name in cg.v2_root_controllers.value
            seen[name] = (present, (cg.v2_root_controllers.evidence,))
    else:
        if not cg.proc_cgroups_known:
            return ControllerAnalysis(
                mode=cg.mode,
                unknown_reason=_("{path} is not in this root").format(path="/proc/cgroups"),
                statuses={},
                needed=needed,
            )
        rows = {r.name: r for r in cg.proc_cgroups}
        table = facts.get(mount_table)
        mounts_known = table.known
        for name in needed:
            row = rows.get(name)
            row_ev: list[Evidence] = []
            if row is not None:
                row_ev.append(Evidence("/proc/cgroups", row.text, row.line))
            else:
                row_ev.append(Evidence("/proc/cgroups", f"no {name} row"))
            ok = row is not None and row.enabled
            if ok and mounts_known and name in MOUNTED_V1:
                hierarchy = cg.v1_mounts.get(name)
                if hierarchy is None:
                    ok = False
                    row_ev.append(
                        Evidence(table.source or "mountinfo", f"no cgroup hierarchy with {name}")
                    )
            seen[name] = (ok, tuple(row_ev))
    cmdline = facts.get(kernel_cmdline)
    params = cmdline.params if cmdline else ()
    statuses: dict[str, ControllerStatus] = {}
    for name in needed:
        ok, ev = seen[name]
        verdict = controller_verdict(params, name)
        if ok:
            statuses[name] = ControllerStatus(
                name=name, available=True, evidence=ev, tokens=verdict.tokens
            )
            continue
        statuses[name] = _why_missing(
            facts, name, v1=v1, evidence=ev, verdict=verdict, cmdline_known=cmdline is not None
        )
    return ControllerAnalysis(mode=cg.mode, unknown_reason="", statuses=statuses, needed=needed)


def _why_missing(
    facts: Facts,
    name: str,
    *,
    v1: bool,
    evidence: tuple[Evidence, ...],
    verdict: ControllerVerdict,
    cmdline_known: bool,
) -> ControllerStatus:
    tokens = verdict.tokens

    def missing(
        cause: Cause,
        text: str,
        winner: PlacedParam | None = None,
        cause_evidence: tuple[Evidence, ...] = (),
        also: tuple[PlacedParam, ...] = (),
    ) -> ControllerStatus:
        return ControllerStatus(
            name=name,
            available=False,
            evidence=evidence,
            cause=cause,
            cause_text=text,
            tokens=(*tokens, *also),
            winner=winner,
            cause_evidence=cause_evidence,
        )

    config = facts.get(kernel_config)
    lacking = config.missing_options(name, v1)
    if lacking:
        opts = [e for e in (config.option_evidence(o) for o in lacking) if e is not None]
        return missing(
            Cause.NOT_BUILT,
            (
                _(
                    "the kernel was built without {options} (cgroup v1 memory is a separate "
                    "option since Linux 6.11)"
                )
                if "CONFIG_MEMCG_V1" in lacking
                else _("the kernel was built without {options}")
            ).format(options=" and ".join(lacking)),
            verdict.winner,
            tuple(opts),
        )
    pi = facts.get(board)
    pi_ev = (pi.evidence,) if pi.raspberry_pi and pi.evidence else ()
    if verdict.enabled is False and verdict.winner is not None:
        w = verdict.winner
        chain = facts.get(boot_chain)
        in_file = chain.target is not None and any(p.text == w.text for p in chain.target.params)
        text = (
            _(
                "{param} is the last word about {controller} on the kernel command line "
                "(parameter {position}) (not in the boot file: the Raspberry Pi firmware puts "
                "it in front of cmdline.txt from the device tree)"
            )
            if chain.raspberry_pi_firmware and not in_file
            else _(
                "{param} is the last word about {controller} on the kernel command line "
                "(parameter {position})"
            )
        )
        return missing(
            Cause.CMDLINE_DISABLED,
            text.format(param=w.text, controller=name, position=w.position),
            w,
            pi_ev,
        )
    if v1 and cmdline_known:
        cmd = facts.get(kernel_cmdline)
        no_v1 = no_v1_token(cmd.params, name) if cmd else None
        if no_v1 is not None:
            return missing(
                Cause.NO_V1,
                _(
                    "{param} keeps {controller} off the cgroup v1 hierarchies the kubelet uses "
                    "on this host"
                ).format(param=no_v1.text, controller=name),
                no_v1,
                also=(no_v1,),
            )
    if verdict.enabled is True and verdict.winner is not None:
        w = verdict.winner
        why = (
            _("cgroup_memory=1 is obsolete: current Raspberry Pi kernels ignore it")
            if w.key == "cgroup_memory"
            else _(
                "cgroup_enable= is not a mainline kernel parameter (Raspberry Pi kernels add "
                "it), and Raspberry Pi kernels built between raspberrypi/linux#6439 and #6524 "
                "(late 2024) ignore it"
            )
        )
        return missing(
            Cause.ENABLE_IGNORED,
            _(
                "{param} is the last word about {controller} but the kernel did not honour it: "
                "{why}"
            ).format(param=w.text, controller=name, why=why),
            w,
            pi_ev,
        )
    if pi.raspberry_pi and name == "memory":
        return missing(
            Cause.RPI_DEFAULT,
            _(
                "Raspberry Pi kernels disable the memory controller by default; nothing on the "
                "kernel command line turns it on"
            ),
            cause_evidence=pi_ev,
        )
    rows = {r.name: r for r in facts.get(cgroup_facts).proc_cgroups}
    if v1 and name in rows and rows[name].enabled:
        return missing(
            Cause.NOT_MOUNTED,
            _("the kernel has {controller} but no cgroup v1 hierarchy is mounted with it").format(
                controller=name
            ),
        )
    if v1 and name not in rows:
        return missing(
            Cause.NOT_BUILT,
            _(
                "/proc/cgroups does not list {controller}: the kernel was built without it for "
                "cgroup v1"
            ).format(controller=name),
        )
    return missing(
        Cause.UNKNOWN,
        _("no cgroup parameter on the kernel command line explains it")
        if cmdline_known
        else _("/proc/cmdline is not in this root"),
    )


#: Causes a kernel command-line edit can fix.
CMDLINE_CAUSES = (Cause.CMDLINE_DISABLED, Cause.RPI_DEFAULT, Cause.NO_V1, Cause.ENABLE_IGNORED)


def pi_image(facts: Facts) -> bool:
    """A Raspberry Pi disk image before its first boot: the firmware's cmdline.txt is there,
    but no running kernel's command line."""
    chain = facts.get(boot_chain)
    return (
        chain.raspberry_pi_firmware
        and chain.target is not None
        and facts.get(kernel_cmdline) is None
    )
