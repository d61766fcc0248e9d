"""Rules about what the kernel gives and the boot command line that decides it:
``cgroup-controller-disabled`` and ``boot-cmdline-ignored`` (research incidents.md §1,
kubelet-cgroups.md §1.2-1.3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nodedoctor.facts import Facts
from nodedoctor.facts.boot import (
    GRUBENV,
    BootChain,
    BootEntries,
    BootFile,
    BootFileKind,
    KernelCmdline,
    PlacedParam,
    boot_chain,
    boot_entries,
    cgroup_boot_messages,
    controller_verdict,
    grubby_command,
    kernel_cmdline,
)
from nodedoctor.facts.cgroups import (
    CMDLINE_CAUSES,
    Cause,
    CgroupMode,
    ControllerStatus,
    controller_analysis,
    controller_fix,
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
    yield Issue(
        title=f"the kernel gives no {', '.join(names)} cgroup controller{plural}",
        message=(
            f"{', '.join(names)} {'are' if plural else 'is'} missing from the {where} "
            f"(cgroup {an.mode.value if an.mode else '?'}). Cause: {causes}."
            + (f" Boot: {chain.reason}." if by_cmdline or chain.target else "")
        ),
        evidence=tuple(evidence),
        fix=_fix_for(facts, missing, chain),
        impact=_impact(names, v1),
    )


CGROUP_CONTROLLER_DISABLED = Rule(
    id="cgroup-controller-disabled",
    severity=Severity.ERROR,
    title="a cgroup controller the kubelet needs is not available from the kernel",
    check=_check_disabled,
    tags=("cgroup", "kernel", "boot", "raspberry-pi"),
    applies_to="every kubelet version; cgroup v1 and v2",
)


# --------------------------------------------------------------------------------------
# boot-cmdline-ignored


def _hides(params: Sequence[PlacedParam], missing: Sequence[str]) -> list[str]:
    """The missing controllers these parameters would turn on."""
    return [n for n in missing if controller_verdict(params, n).enabled is True]


def _severity(hidden: list[str]) -> Severity:
    return Severity.ERROR if hidden else Severity.WARNING


def _stub_issue(stub: BootFile, chain: BootChain, missing: list[str]) -> Issue:
    hidden = _hides(stub.params, missing)
    words = " ".join(dict.fromkeys(p.text for p in stub.params))
    target = chain.target.path if chain.target else "/boot/firmware/cmdline.txt"
    evidence = [p.evidence() for p in stub.params if p.line is not None]
    evidence = list(dict.fromkeys(evidence))
    if chain.target is not None and chain.target.evidence() not in evidence:
        evidence.append(chain.target.evidence())
    hides = f"; it hides {', '.join(hidden)}, which the kernel does not give" if hidden else ""
    return Issue(
        title=f"parameters added to {stub.path}, a file the boot loader does not read",
        message=(
            f'{stub.path} is the Raspberry Pi OS bookworm stub ("DO NOT EDIT THIS FILE ... '
            f'moved to /boot/firmware/cmdline.txt"); the firmware reads {target}, so '
            f'"{words}" never reaches the kernel{hides}.'
        ),
        evidence=tuple(evidence),
        fix=FixHint(
            summary=(
                f'add "{words}" to the end of the single line of {target} and reboot; '
                f"the stub can be left as it is"
            ),
            files=(target,),
            reboot=True,
        ),
        severity=_severity(hidden),
        impact="the parameters have no effect: the kernel boots as if they were never written",
    )


def _split_issue(target: BootFile, missing: list[str]) -> Issue | None:
    ignored = target.ignored_params
    if not ignored:
        return None
    hidden = _hides([*target.read_params, *ignored], missing)
    hidden = [n for n in hidden if n not in _hides(target.read_params, missing)]
    lines = sorted({p.line for p in ignored if p.line is not None})
    evidence = [target.evidence(), *dict.fromkeys(p.evidence() for p in ignored)]
    hides = f"; they hold what would turn on {', '.join(hidden)}" if hidden else ""
    return Issue(
        title=f"{target.path} is split over {target.param_lines} lines; only the first counts",
        message=(
            f"The Raspberry Pi firmware takes the kernel command line from the first line of "
            f"{target.path}; the words on line{'s' if len(lines) > 1 else ''} "
            f"{', '.join(map(str, lines))} "
            f'("{" ".join(p.text for p in ignored)}") never reach the kernel{hides}.'
        ),
        evidence=tuple(evidence),
        fix=FixHint(
            summary=f"join {target.path} into one line (words separated by spaces), reboot",
            files=(target.path,),
            reboot=True,
        ),
        severity=_severity(hidden),
        impact="the parameters on the later lines have no effect",
    )


def _take(words: list[str], text: str) -> bool:
    """Remove one ``text`` from ``words`` (a multiset); whether it was there."""
    if text in words:
        words.remove(text)
        return True
    return False


def _by_verdict(p: PlacedParam) -> bool:
    """A word :func:`controller_verdict` decides (compared by verdict, not by text)."""
    return p.key in ("cgroup_disable", "cgroup_enable") or (
        p.key == "cgroup_memory" and p.value in ("0", "1")
    )


def _named(params: Sequence[PlacedParam]) -> list[str]:
    """The controllers the verdict words name, in order."""
    out: list[str] = []
    for p in params:
        if _by_verdict(p):
            for name in ("memory",) if p.key == "cgroup_memory" else p.values:
                if name not in out:
                    out.append(name)
    return out


def _no_v1_cover(params: Sequence[PlacedParam]) -> frozenset[str]:
    """The controllers ``cgroup_no_v1=`` keeps off v1 (every occurrence counts)."""
    names = {v for p in params if p.key == "cgroup_no_v1" for v in p.values}
    return frozenset({"all"}) if "all" in names else frozenset(names)


def _entries_pending_issue(
    cmdline: KernelCmdline,
    target: BootFile,
    entries: BootEntries,
    missing: list[str],
    stays_off: Sequence[str] = (),
) -> Issue | None:
    """RHEL boot entries that tell the next boot's parameters: what they change against
    /proc/cmdline is a pending reboot; what the GRUB file asks for and they lack is grubby
    not run yet. Controller words are compared by their verdicts (``cgroup_disable=memory``
    running and ``cgroup_disable=memory,hugetlb`` next: memory stays off, hugetlb goes off),
    ``cgroup_no_v1=`` by what it covers, the other cgroup parameters by text.
    ``stays_off``: missing controllers the next boot still keeps off (cgroup-controller-
    disabled asks grubby to remove the words; this does not say grubby need not run)."""
    nxt = entries.next_relevant
    next_params = entries.next_params or ()
    same_no_v1 = _no_v1_cover(cmdline.params) == _no_v1_cover(next_params)

    def textual(params: Sequence[PlacedParam]) -> list[PlacedParam]:
        return [
            p for p in params if not _by_verdict(p) and not (same_no_v1 and p.key == "cgroup_no_v1")
        ]

    booted = [p.text for p in textual(cmdline.relevant)]
    added = [p for p in textual(nxt) if not _take(booted, p.text)]
    upcoming = [p.text for p in textual(nxt)]
    removed = [p for p in textual(cmdline.relevant) if not _take(upcoming, p.text)]
    turns_off: list[str] = []
    turns_on: list[str] = []
    for name in _named([*cmdline.relevant, *nxt]):
        before = controller_verdict(cmdline.params, name)
        after = controller_verdict(next_params, name)
        if before.enabled == after.enabled:
            continue
        if after.enabled is False:
            turns_off.append(name)
        elif before.enabled is False:
            turns_on.append(name)
        if after.winner is not None:
            if after.winner not in added:
                added.append(after.winner)
        elif before.winner is not None and before.winner not in removed:
            removed.append(before.winner)
    in_entries = {p.text for p in nxt}
    running = {p.text for p in cmdline.relevant}
    not_applied = [
        p
        for p in target.read_params
        if p.relevant and p.text not in in_entries and p.text not in running
    ]
    if not (added or removed or not_applied):
        return None
    hidden = _hides([*cmdline.params, *added, *not_applied], missing)
    hidden += [
        n
        for n in missing
        if n not in hidden
        and controller_verdict(cmdline.params, n).enabled is False
        and controller_verdict(next_params, n).enabled is not False
    ]
    evidence: list[Evidence] = []
    parts: list[str] = []
    if not_applied:
        words = " ".join(p.text for p in not_applied)
        parts.append(
            f'{target.path} asks for "{words}" but the boot entries do not have '
            f"{'them' if len(not_applied) > 1 else 'it'}: grubby has not applied the file"
        )
        evidence.extend(p.evidence() for p in not_applied)
    if added:
        words = " ".join(p.text for p in added)
        parts.append(f'the boot entries already have "{words}" and /proc/cmdline does not')
        evidence.extend(
            p.evidence(f" (the next boot's entry{f', via ${p.variable}' if p.variable else ''})")
            for p in added
        )
    if removed:
        words = " ".join(p.text for p in removed)
        parts.append(f'the boot entries no longer have "{words}" and /proc/cmdline still does')
        for e in entries.next_evidence:
            shown = e
            if (e.source.endswith(".conf") and e.text.startswith("options")) or (
                e.source == GRUBENV and e.text.startswith("kernelopts=")
            ):
                shown = Evidence(e.source, f'no "{words}" in: {e.text}', e.line)
            if shown not in evidence:
                evidence.append(shown)
    if turns_off or turns_on:
        parts.append(
            "the next boot turns "
            + " and ".join(
                f"{', '.join(names)} {how}"
                for names, how in ((turns_off, "off"), (turns_on, "back on"))
                if names
            )
        )
        for e in entries.next_evidence:
            if e not in evidence:
                evidence.append(e)
    evidence.append(cmdline.evidence)
    hides = f"; the kernel lacks {', '.join(hidden)} until then" if hidden else ""
    commands: tuple[str, ...] = ()
    if not_applied:
        commands = (grubby_command("args", " ".join(p.text for p in not_applied)),)
        summary = f"run `{commands[0]}`, then reboot"
        title = f"{target.path} has cgroup parameters the boot entries do not have"
    elif stays_off:
        summary = (
            f"reboot to boot with them; {', '.join(stays_off)} stays off after it: the boot "
            "entries still disable it (see cgroup-controller-disabled for the grubby command)"
        )
        title = "the boot entries' cgroup parameters wait for a reboot"
    else:
        summary = "reboot: the boot entries already say it, grubby need not run again"
        title = "the boot entries' cgroup parameters wait for a reboot"
    return Issue(
        title=title,
        message=(
            "; ".join(parts)
            + f" ({entries.next_reason}): the node has not booted with them yet{hides}."
        ),
        evidence=tuple(dict.fromkeys(evidence)),
        fix=FixHint(
            summary=summary,
            files=(target.path,) if not_applied else (),
            reboot=True,
            commands=commands,
        ),
        severity=_severity(hidden),
        impact="until the reboot the kernel runs with the old parameters",
    )


def _pending_issue(
    facts: Facts, chain: BootChain, target: BootFile, missing: list[str]
) -> Issue | None:
    cmdline = facts.get(kernel_cmdline)
    if cmdline is None:
        return None
    entries = facts.get(boot_entries) if chain.grubby else None
    if entries is not None and entries.known:
        an = facts.get(controller_analysis)
        v1 = an.known and an.mode is not CgroupMode.V2
        stays_off = [
            n
            for n in missing
            if entries.keeping_off(n) or (v1 and entries.keeping_off(n, no_v1=True))
        ]
        return _entries_pending_issue(cmdline, target, entries, missing, stays_off)
    booted = [p.text for p in cmdline.relevant]
    pending: list[PlacedParam] = []
    for p in target.read_params:
        if not p.relevant:
            continue
        if p.text in booted:
            booted.remove(p.text)
        else:
            pending.append(p)
    if not pending:
        return None
    hidden = _hides([*cmdline.params, *pending], missing)
    words = " ".join(p.text for p in pending)
    evidence = [*dict.fromkeys(p.evidence() for p in pending), cmdline.evidence]
    step = ""
    if target.kind is BootFileKind.GRUB and chain.apply_commands:
        step = (
            f"run `{chain.apply_commands[0]}` (editing {target.path} alone changes nothing "
            "until the boot loader configuration is regenerated), then "
        )
    hides = f"; the kernel lacks {', '.join(hidden)} until then" if hidden else ""
    return Issue(
        title=f"{target.path} has cgroup parameters the running kernel did not boot with",
        message=(
            f'{target.path} asks for "{words}" but /proc/cmdline does not show '
            f"{'them' if len(pending) > 1 else 'it'}: the node has not booted with this "
            f"file yet{hides}."
        ),
        evidence=tuple(evidence),
        fix=FixHint(
            summary=f"{step}reboot",
            files=(target.path,),
            reboot=True,
            commands=chain.apply_commands if target.kind is BootFileKind.GRUB else (),
        ),
        severity=_severity(hidden),
        impact="until the reboot the kernel runs with the old parameters",
    )


def _check_ignored(facts: Facts) -> Iterator[Issue]:
    chain = facts.get(boot_chain)
    if not chain.files:
        raise SkipRuleError(
            "no kernel command-line file (cmdline.txt, /etc/default/grub, /etc/kernel/cmdline) "
            "in this root"
        )
    an = facts.get(controller_analysis)
    missing = [s.name for s in an.missing()] if an.known else []
    for stub in chain.stubs:
        if stub.params:
            yield _stub_issue(stub, chain, missing)
    target = chain.target
    if target is None:
        return
    if target.split:
        issue = _split_issue(target, missing)
        if issue is not None:
            yield issue
    pending = _pending_issue(facts, chain, target, missing)
    if pending is not None:
        yield pending


BOOT_CMDLINE_IGNORED = Rule(
    id="boot-cmdline-ignored",
    severity=Severity.WARNING,
    title="kernel parameters written where the boot loader does not read them (yet)",
    check=_check_ignored,
    tags=("kernel", "boot", "raspberry-pi", "grub"),
    applies_to="every node with a cmdline.txt, /etc/default/grub or /etc/kernel/cmdline",
)

RULES = (CGROUP_CONTROLLER_DISABLED, BOOT_CMDLINE_IGNORED)
