"""Remedies for kernel settings and modules: a sysctl drop-in applied with ``sysctl --system``,
a ``modules-load.d`` file plus ``modprobe``, swap commented out of ``/etc/fstab`` plus
``swapoff -a``. The commands run live only; under ``--root`` the plan says they are needed."""

from __future__ import annotations

from nodedoctor.remedies.steps import Command, FstabComment, Remedy, Step, SysctlSet, WriteFile

#: nodedoctor's own drop-in: ``99-`` so it is read after the distribution's files.
SYSCTL_DROPIN = "/etc/sysctl.d/99-kubernetes-nodedoctor.conf"


def modules_file(module: str) -> str:
    return f"/etc/modules-load.d/{module}.conf"


def sysctl_remedy(*settings: tuple[str, str], modules: tuple[str, ...] = ()) -> Remedy:
    """Load ``modules`` at boot and now, then set each ``(key, value)`` for good and now."""
    steps: list[Step] = []
    for module in modules:
        steps.append(
            WriteFile(
                modules_file(module),
                f"# Written by nodedoctor fix: loaded at boot by systemd-modules-load.\n{module}\n",
                f"load {module} at boot",
                "text",
                own_mark="# Written by nodedoctor fix",
            )
        )
        steps.append(Command(("modprobe", module), f"load {module} now"))
    for key, value in settings:
        steps.append(SysctlSet(SYSCTL_DROPIN, key, value, f"{key} = {value} at every boot"))
    if settings:
        steps.append(Command(("sysctl", "--system"), "apply the sysctl drop-ins now"))
    return Remedy(tuple(steps))


def swap_off_remedy(lines: tuple[tuple[int, str], ...]) -> Remedy:
    """Comment each swap line of /etc/fstab (``(line, text)``), then ``swapoff -a``."""
    steps: list[Step] = [
        FstabComment("/etc/fstab", n, text, "swap no longer activated at boot") for n, text in lines
    ]
    steps.append(Command(("swapoff", "-a"), "turn the active swap off now"))
    return Remedy(tuple(steps))
