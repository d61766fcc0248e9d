"""cgroup-controller-disabled: a cgroup controller the kubelet needs is not available from the
kernel, and the boot parameter that would give it (research incidents.md §1, kubelet-cgroups.md
§1.2-1.3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nodedoctor.facts import Facts
from nodedoctor.facts.boot import (
    BootChain,
    boot_chain,
    boot_entries,
    cgroup_boot_messages,
    kernel_cmdline,
)
from nodedoctor.facts.cgroups import (
    CMDLINE_CAUSES,
    Cause,
    CgroupMode,
    ControllerStatus,
    controller_analysis,
    pi_image,
)
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError


def _generic_fix(names: Sequence[str], chain: BootChain) -> str:
    params = " ".join(f"cgroup_enable={n}" for n in names)
    return (
        f"{chain.reason}; remove any cgroup_disable= naming {', '.join(names)} from the "
        "kernel command line of this node's boot loader (on a Raspberry Pi add "
        f'"{params}" to the end of /boot/firmware/cmdline.txt on Raspberry Pi OS bookworm '
        "and Ubuntu, /boot/cmdline.txt on older Pi OS and Rocky), then reboot"
    )


def _others_text(others: Sequence[ControllerStatus]) -> list[str]:
    out: list[str] = []
    for s in others:
        if s.cause is Cause.NOT_BUILT:
            v1_only = any("_V1 is not set" in e.text for e in s.cause_evidence)
            out.append(
                f"{s.name}: {s.cause_text}; boot a kernel built with it"
                + (
                    ", or boot the host on cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the "
                    "kernel command line), where this kernel gives it"
                    if v1_only
                    else ""
                )
            )
        elif s.cause is Cause.NOT_MOUNTED:
            out.append(
                f"{s.name}: mount its cgroup v1 hierarchy (the init system normally does), "
                "or move the host to cgroup v2"
            )
        else:
            out.append(f"{s.name}: {s.cause_text}")
    return out


def _fix_for(facts: Facts, missing: list[ControllerStatus], chain: BootChain) -> FixHint:
    from nodedoctor.remedies.boot import controller_fix  # only for a finding

    plan = facts.get(controller_fix)
    extra = _others_text(plan.others)
    tail = ("; " + "; ".join(extra)) if extra else ""
    names = ", ".join(plan.by_cmdline)
    edit = plan.edit
    if not plan.by_cmdline:
        return FixHint(summary="; ".join(extra), reboot=True)
    if edit is None:
        return FixHint(summary=_generic_fix(plan.by_cmdline, chain) + tail, reboot=True)
    if plan.elsewhere:
        words = " ".join(p.text for p in plan.elsewhere)
        commands = plan.elsewhere_commands
        where = "the boot entries" if commands else "another boot configuration than " + edit.path
        # Known entries: the words are the next boot's own (they may be written differently
        # from the running kernel's, e.g. cgroup_disable=memory,hugetlb), not a guess.
        said = (
            f'the next boot\'s entry still has "{words}" ({plan.entries.next_reason}), '
            f"not {edit.path}"
            if plan.entries is not None
            else f'the running kernel got "{words}" from {where}, not from {edit.path}'
        )
        unread = facts.get(boot_entries) if chain.grubby else None
        if plan.entries is None and commands and unread is not None and not unread.known:
            said += (
                " (assumed: the next boot's parameters cannot be told from the boot entries: "
                f"{unread.next_reason})"
            )
        summary = (
            f"{said}: remove it there"
            + (f" (`{commands[0]}`)" if commands else "")
            + (f"; also {edit.describe()}" if not edit.empty else ", then reboot")
        )
        return FixHint(
            summary=summary + tail,
            files=(edit.path,) if not edit.empty else (),
            reboot=True,
            commands=plan.commands,
        )
    if edit.empty and plan.pending and plan.entries is not None:
        words = " ".join(p.text for p in plan.pending)
        summary = (
            f'neither {edit.path} nor the boot entries hold "{words}" any more '
            f"({plan.entries.next_reason}): the running kernel booted before they were "
            "changed; reboot, grubby need not run again (see boot-cmdline-ignored)"
        )
        return FixHint(summary=summary + tail, reboot=True)
    if edit.empty:
        ignored = [s for s in missing if s.cause is Cause.ENABLE_IGNORED]
        if ignored and all(s.winner and s.winner.key == "cgroup_enable" for s in ignored):
            summary = (
                f"{edit.path} already asks for {names} but this kernel ignores "
                "cgroup_enable=: update the Raspberry Pi kernel (raspberrypi/linux#6524 "
                "restored it) and reboot"
            )
        else:
            summary = (
                f"{edit.path} already asks for {names}: the running kernel did not boot with "
                "it yet, reboot"
                + (f" after `{edit.commands[0]}`" if edit.commands else "")
                + " (see boot-cmdline-ignored)"
            )
        return FixHint(summary=summary + tail, files=(edit.path,), reboot=True)
    note = ""
    if chain.raspberry_pi_firmware:
        note = " (cgroup_memory=1, which many guides add, is obsolete but harmless)"
    if plan.pending and plan.entries is not None:
        words = " ".join(p.text for p in plan.pending)
        note += f' ("{words}" is already gone from the boot entries: the reboot drops it)'
    return FixHint(
        summary=edit.describe() + note + tail,
        available=not plan.others,
        files=(edit.path,),
        reboot=True,
        commands=edit.commands,
    )


def _impact(names: Sequence[str], v1: bool) -> str:
    parts = [
        "the kubelet cannot give pods the cgroups it validates (kubepods) and exits with "
        '"Failed to start ContainerManager"; kubeadm preflight stops with "[ERROR '
        f'SystemVerification]: missing required cgroups: {" ".join(names)}"'
    ]
    if "memory" in names:
        parts.append(
            'k3s exits with "Failed to find memory cgroup, you may need to add '
            '\\"cgroup_memory=1 cgroup_enable=memory\\" to your linux cmdline"'
            if v1
            else 'k3s exits with "failed to find memory cgroup (v2)"'
        )
        parts.append("without it no pod memory limit can be enforced")
    return "; ".join(parts)


def _predict_for_image(facts: Facts, reason: str) -> Iterator[Issue]:
    """A Raspberry Pi disk image before its first boot (no /proc, no /sys): every current
    Raspberry Pi kernel starts with memory off (in code, or by the firmware's device-tree
    ``cgroup_disable=memory``), so only ``cmdline.txt`` can turn it on."""
    chain = facts.get(boot_chain)
    target = chain.target
    if target is None or not pi_image(facts):
        raise SkipRuleError(reason)
    from nodedoctor.remedies.boot import controller_fix  # only for a finding
    from nodedoctor.remedies.boot_steps import controller_remedy  # only for a finding

    plan = facts.get(controller_fix)
    if not plan.by_cmdline:
        return  # cmdline.txt already turns memory on
    fix = None
    if plan.edit is not None and not plan.edit.empty:
        fix = FixHint(
            summary=plan.edit.describe()
            + " (cgroup_memory=1, which many guides add, is obsolete but harmless)",
            available=True,
            files=(plan.edit.path,),
            reboot=plan.edit.reboot,
        )
    yield Issue(
        title="the kernel will boot without the memory cgroup controller",
        message=(
            "This root has no /proc or /sys: a Raspberry Pi image before its first boot. "
            "Raspberry Pi kernels start with the memory controller off (in code, or by the "
            "firmware's device-tree cgroup_disable=memory in front of cmdline.txt), and "
            f"{target.path} does not end with cgroup_enable=memory. Boot: {chain.reason}."
        ),
        evidence=(target.evidence(),),
        fix=fix,
        impact=_impact(["memory"], v1=False),
        remedy=controller_remedy(facts, fix),
    )


def _check_disabled(facts: Facts) -> Iterator[Issue]:
    an = facts.get(controller_analysis)
    if not an.known:
        yield from _predict_for_image(facts, an.unknown_reason)
        return
    missing = an.missing()
    if not missing:
        return
    chain = facts.get(boot_chain)
    names = [s.name for s in missing]
    v1 = an.mode is not CgroupMode.V2
    evidence: list[Evidence] = []
    for s in missing:
        for e in s.evidence:
            if e not in evidence:
                evidence.append(e)
    for s in missing:
        for t in s.tokens:
            note = f" (the last word about {s.name})" if t == s.winner else ""
            ev = t.evidence(note)
            if ev not in evidence:
                evidence.append(ev)
        if s.winner is not None and s.winner not in s.tokens:
            evidence.append(s.winner.evidence())
        if s.winner is not None and chain.target is not None:
            # Where the winning word is written, when it is in the boot file.
            for p in chain.target.params:
                if p.text == s.winner.text and p.evidence() not in evidence:
                    evidence.append(p.evidence())
        for e in s.cause_evidence:
            if e not in evidence:
                evidence.append(e)
    from nodedoctor.remedies.boot import controller_fix  # only for a finding
    from nodedoctor.remedies.boot_steps import controller_remedy  # only for a finding

    plan = facts.get(controller_fix)
    for p in plan.elsewhere:
        if p.source != "/proc/cmdline":
            via = f" in ${p.variable}, which the entries' options use" if p.variable else ""
            ev = p.evidence(f" (the next boot's entry still has it{via})")
            if ev not in evidence:
                evidence.append(ev)
    if plan.pending and plan.entries is not None:
        for e in plan.entries.next_evidence:
            if e not in evidence:
                evidence.append(e)
    for message in facts.get(cgroup_boot_messages):
        if any(f" {n} " in f" {message.text} " or f"={n}" in message.text for n in names):
            evidence.append(message)
    cmdline = facts.get(kernel_cmdline)
    if cmdline is not None and not any(s.tokens for s in missing):
        evidence.append(cmdline.evidence)
    by_cmdline = any(s.cause in CMDLINE_CAUSES for s in missing)
    if chain.target is not None and chain.target.evidence() not in evidence:
        evidence.append(chain.target.evidence())
    plural = "s" if len(names) > 1 else ""
    where = "root cgroup.controllers" if not v1 else "cgroup v1 hierarchies"
    causes = "; ".join(f"{s.name}: {s.cause_text}" for s in missing)
    fix = _fix_for(facts, missing, chain)
    yield Issue(
        title=f"the kernel gives no {', '.join(names)} cgroup controller{plural}",
        message=(
            f"{', '.join(names)} {'are' if plural else 'is'} missing from the {where} "
            f"(cgroup {an.mode.value if an.mode else '?'}). Cause: {causes}."
            + (f" Boot: {chain.reason}." if by_cmdline or chain.target else "")
        ),
        evidence=tuple(evidence),
        fix=fix,
        impact=_impact(names, v1),
        remedy=controller_remedy(facts, fix),
    )


RULE = Rule(
    id="cgroup-controller-disabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="a cgroup controller the kubelet needs is not available from the kernel",
    check=_check_disabled,
    tags=("cgroup", "kernel", "boot", "raspberry-pi"),
    applies_to="every kubelet version; cgroup v1 and v2",
)
