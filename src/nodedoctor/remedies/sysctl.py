"""Remedies for kernel settings, modules and swap before Kubernetes (``ip-forwarding-disabled``,
``bridge-netfilter``, ``swap-enabled``): the sysctl in a drop-in of ``/etc/sysctl.d`` applied
with ``sysctl --system``, the module in ``/etc/modules-load.d`` loaded with ``modprobe``, the
swap lines of ``/etc/fstab`` commented out and ``swapoff -a``.

Where the assignment that wins today is in an administrator's file under ``/etc`` (Kubespray's
``/etc/sysctl.d/99-sysctl.conf``, ``/etc/sysctl.conf``), that line is changed instead: a
drop-in would lose to it (``sysctl --system`` applies ``/etc/sysctl.conf`` last). A vendor
file applied after the drop-in is refused: overriding it would need a file of the same name
in ``/etc/sysctl.d``, which hides all of its settings.

Live, ``modprobe`` and ``sysctl --system`` run with ``--apply``; on a ``--root`` copy nothing
runs and the files take effect at the node's next boot (systemd-modules-load, then
systemd-sysctl, which is ordered after it).
"""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.swap import swap_facts
from nodedoctor.facts.sysctl import SYSCTL_CONF, modules_loaded_at_boot, sysctl_config
from nodedoctor.i18n import N_, _
from nodedoctor.parsers.fstab import FstabEntry, parse_fstab
from nodedoctor.remedies.steps import (
    FstabComment,
    Instruction,
    ModuleLoad,
    Reboot,
    Refuse,
    Remedy,
    RunNow,
    Step,
    SysctlSet,
    and_join,
    refused,
)

#: nodedoctor's own drop-in: ``99-`` so it is read after the distribution's files.
SYSCTL_DROPIN = "/etc/sysctl.d/99-kubernetes-nodedoctor.conf"


def modules_file(module: str) -> str:
    return f"/etc/modules-load.d/{module}.conf"


SYSCTL_HEADER = (
    "# Kernel parameters Kubernetes needs, written by 'nodedoctor fix'\n"
    "# ('nodedoctor explain ip-forwarding-disabled', 'nodedoctor explain bridge-netfilter').\n"
)
MODULES_HEADER = (
    "# Kernel modules Kubernetes needs, loaded at boot; written by 'nodedoctor fix'\n"
    "# ('nodedoctor explain bridge-netfilter').\n"
)
APPLY_SYSCTL = RunNow(
    ("sysctl", "--system"), N_("applies the sysctl configuration to the running kernel")
)


def _applied_after(files: list[str], a: str, b: str) -> bool:
    """Whether ``sysctl --system`` applies ``a`` after ``b`` (files of sysctl.d by name,
    ``/etc/sysctl.conf`` last)."""

    def key(path: str) -> tuple[int, str]:
        return (1, "") if path == SYSCTL_CONF else (0, path.rsplit("/", 1)[-1])

    return key(a) > key(b)


def sysctl_steps(facts: Facts, settings: tuple[tuple[str, str], ...], rule: str) -> list[Step]:
    """The edits that make the configuration set each (key, value) of ``settings``."""
    sc = facts.get(sysctl_config)
    steps: list[Step] = []
    for key, value in settings:
        current = sc.configured_value(key)
        description = f"{key} = {value}"
        if current is not None and current.value == value:
            continue
        if current is not None and current.path.startswith("/etc/"):
            steps.append(SysctlSet(current.path, key, value, description))
            continue
        if current is not None and _applied_after(list(sc.files), current.path, SYSCTL_DROPIN):
            where = f"{current.path}:{current.evidence.line}"
            return [
                Refuse(
                    _(
                        "{where} sets {key} = {current} and is applied after any drop-in of "
                        "/etc/sysctl.d; set {key} = {value} in /etc/sysctl.conf, which "
                        "sysctl --system applies last"
                    ).format(where=where, key=key, current=current.value, value=value),
                    current.path,
                )
            ]
        steps.append(SysctlSet(SYSCTL_DROPIN, key, value, description, SYSCTL_HEADER))
    return steps


def edited_files(remedy: Remedy) -> tuple[str, ...]:
    """The files ``remedy`` edits, for a finding's fix hint (the drop-in, or the
    administrator's file whose assignment wins today)."""
    paths = (s.path for s in remedy.steps if isinstance(s, (SysctlSet, ModuleLoad, FstabComment)))
    return tuple(dict.fromkeys(paths))


def sysctl_remedy(facts: Facts, settings: tuple[tuple[str, str], ...], rule: str) -> Remedy:
    """``settings`` in the sysctl configuration, applied now (live) or at the next boot."""
    return Remedy(with_commands(facts, sysctl_steps(facts, settings, rule), (APPLY_SYSCTL,)))


def module_and_sysctl_remedy(
    facts: Facts, module: str, settings: tuple[tuple[str, str], ...], rule: str
) -> Remedy:
    """``module`` loaded at boot and now, then ``settings`` (its sysctls) set and applied."""
    steps: list[Step] = []
    if module.replace("-", "_") not in facts.get(modules_loaded_at_boot):
        steps.append(
            ModuleLoad(
                modules_file(module),
                module,
                _("load {module} at boot").format(module=module),
                MODULES_HEADER,
            )
        )
    load = RunNow(
        ("modprobe", module), _("loads {module} into the running kernel").format(module=module)
    )
    steps += sysctl_steps(facts, settings, rule)
    return Remedy(with_commands(facts, steps, (load, APPLY_SYSCTL)))


def with_commands(
    facts: Facts, edits: list[Step], commands: tuple[RunNow, ...], files_hold_it: bool = True
) -> tuple[Step, ...]:
    """``edits``, then what applies them to the running kernel: the commands, run with
    ``--apply`` on the live node. A root that is not running (a disk image, a copy) runs none:
    its next boot applies the files (``files_hold_it``: with no edit, they already hold the
    change). A bundle's node runs them itself: with nothing to edit, they are said by hand."""
    if facts.live:
        return (*edits, *commands)
    if not facts.running:
        boot = (Reboot(),) if edits or files_hold_it else ()
        return (*edits, *(commands if edits else ()), *boot)
    if edits:
        return (*edits, *commands)
    said = and_join([f"`{' '.join(c.argv)}`" for c in commands])
    return (
        Instruction(
            _("run {commands} on the node").format(commands=said),
            _("a bundle is a copy of the node"),
        ),
    )


# -- swap ------------------------------------------------------------------------------
# swap-enabled's remedy: the swap lines of /etc/fstab commented out (journaled like every
# edit, so rollback brings them back) and, live, ``swapoff -a``, which turns off every area
# /proc/swaps lists. An active area no fstab line starts (zram-generator, Raspberry Pi OS's
# dphys-swapfile, a systemd .swap unit) comes back at the next boot: the remedy says so and
# what to disable, by hand. A line naming a partition by UUID=, LABEL=, PARTUUID=,
# PARTLABEL= or a /dev/disk/by-* link cannot be resolved offline: it is taken to start the
# active partition areas.

FSTAB = "/etc/fstab"
_BY_NAME = ("UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=", "/dev/disk/by-")


def _starts(entry: FstabEntry, filename: str, kind: str) -> bool:
    if entry.spec == filename:
        return True
    return kind == "partition" and entry.spec.startswith(_BY_NAME)


def swap_off_remedy(facts: Facts) -> Remedy:
    areas = facts.get(swap_facts).areas or ()
    entries: list[FstabEntry] = []
    if facts.root.exists(FSTAB):
        parsed = facts.parse(FSTAB, parse_fstab)
        if parsed is None:
            return refused(_("{path} cannot be parsed").format(path=FSTAB), FSTAB)
        entries = [e for e in parsed if e.is_swap]
    steps: list[Step] = [
        FstabComment(FSTAB, e.line, e.text, _("swap no longer activated at boot")) for e in entries
    ]
    elsewhere = [
        a.filename for a in areas if not any(_starts(e, a.filename, a.kind) for e in entries)
    ]
    if elsewhere and not facts.root.exists(FSTAB):
        steps.append(
            Instruction(
                _(
                    "keep {areas} off at boot: comment out its line in {fstab} (not in this "
                    "root), or disable what else starts it"
                ).format(areas=", ".join(elsewhere), fstab=FSTAB),
                _("{path} is not in this root").format(path=FSTAB),
            )
        )
    elif elsewhere:
        steps.append(
            Instruction(
                _(
                    "{areas} is not started from {fstab}: disable what starts it "
                    "(zram-generator's /etc/systemd/zram-generator.conf, Raspberry Pi OS's "
                    "dphys-swapfile service, a systemd .swap unit: systemctl mask it), or it "
                    "comes back at the next boot"
                ).format(areas=", ".join(elsewhere), fstab=FSTAB),
                _("nodedoctor edits {path} only").format(path=FSTAB),
            )
        )
    swapoff = RunNow(("swapoff", "-a"), _("turns off every active swap area now"))
    edits = steps[: len(entries)]
    return Remedy(
        (*with_commands(facts, edits, (swapoff,), files_hold_it=False), *steps[len(edits) :])
    )
