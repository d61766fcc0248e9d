"""cgroup-controller-disabled: a cgroup controller the kubelet needs is not available from the
kernel, and the boot parameter that would give it (research incidents.md §1, kubelet-cgroups.md
§1.2-1.3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

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
from nodedoctor.i18n import N_, _, ngettext
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

if TYPE_CHECKING:
    from nodedoctor.remedies.boot import CmdlineEdit, ControllerFix

#: A note after the edit of a Raspberry Pi's cmdline.txt.
_OBSOLETE_NOTE = N_("{fix} (cgroup_memory=1, which many guides add, is obsolete but harmless)")


def _joined(texts: Sequence[str]) -> str:
    """Sentences one after another, as English joins them with "; "."""
    out = texts[0] if texts else ""
    for text in texts[1:]:
        out = _("{said}; {more}").format(said=out, more=text)
    return out


def _generic_fix(names: Sequence[str], chain: BootChain) -> str:
    return _(
        "{reason}; remove any cgroup_disable= naming {controllers} from the kernel command line "
        'of this node\'s boot loader (on a Raspberry Pi add "{params}" to the end of '
        "/boot/firmware/cmdline.txt on Raspberry Pi OS bookworm and Ubuntu, /boot/cmdline.txt "
        "on older Pi OS and Rocky), then reboot"
    ).format(
        reason=chain.reason,
        controllers=", ".join(names),
        params=" ".join(f"cgroup_enable={n}" for n in names),
    )


def _others_text(others: Sequence[ControllerStatus]) -> list[str]:
    out: list[str] = []
    for s in others:
        if s.cause is Cause.NOT_BUILT:
            v1_only = any("_V1 is not set" in e.text for e in s.cause_evidence)
            text = (
                _(
                    "{controller}: {cause}; boot a kernel built with it, or boot the host on "
                    "cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command line), "
                    "where this kernel gives it"
                )
                if v1_only
                else _("{controller}: {cause}; boot a kernel built with it")
            )
            out.append(text.format(controller=s.name, cause=s.cause_text))
        elif s.cause is Cause.NOT_MOUNTED:
            out.append(
                _(
                    "{controller}: mount its cgroup v1 hierarchy (the init system normally does), "
                    "or move the host to cgroup v2"
                ).format(controller=s.name)
            )
        else:
            out.append(_("{controller}: {cause}").format(controller=s.name, cause=s.cause_text))
    return out


def _elsewhere_summary(
    facts: Facts, plan: ControllerFix, edit: CmdlineEdit, chain: BootChain
) -> str:
    """The fix when the running kernel's word comes from another place than the edited file
    (``edit``, the plan's)."""
    words = " ".join(p.text for p in plan.elsewhere)
    commands = plan.elsewhere_commands
    # Known entries: the words are the next boot's own (they may be written differently
    # from the running kernel's, e.g. cgroup_disable=memory,hugetlb), not a guess.
    if plan.entries is not None:
        said = _('the next boot\'s entry still has "{words}" ({reason}), not {path}').format(
            words=words, reason=plan.entries.next_reason, path=edit.path
        )
    elif commands:
        said = _('the running kernel got "{words}" from the boot entries, not from {path}').format(
            words=words, path=edit.path
        )
    else:
        said = _(
            'the running kernel got "{words}" from another boot configuration than {path}, '
            "not from {path}"
        ).format(words=words, path=edit.path)
    unread = facts.get(boot_entries) if chain.grubby else None
    if plan.entries is None and commands and unread is not None and not unread.known:
        said = _(
            "{said} (assumed: the next boot's parameters cannot be told from the boot entries: "
            "{reason})"
        ).format(said=said, reason=unread.next_reason)
    if commands and not edit.empty:
        summary = _("{said}: remove it there (`{command}`); also {edit}")
    elif commands:
        summary = _("{said}: remove it there (`{command}`), then reboot")
    elif not edit.empty:
        summary = _("{said}: remove it there; also {edit}")
    else:
        summary = _("{said}: remove it there, then reboot")
    return summary.format(
        said=said,
        command=commands[0] if commands else "",
        edit=edit.describe() if not edit.empty else "",
    )


def _fix_for(facts: Facts, missing: list[ControllerStatus], chain: BootChain) -> FixHint:
    from nodedoctor.remedies.boot import controller_fix  # only for a finding

    plan = facts.get(controller_fix)
    extra = _others_text(plan.others)
    names = ", ".join(plan.by_cmdline)
    edit = plan.edit
    if not plan.by_cmdline:
        return FixHint(summary=_joined(extra), reboot=True)
    if edit is None:
        return FixHint(summary=_joined([_generic_fix(plan.by_cmdline, chain), *extra]), reboot=True)
    if plan.elsewhere:
        return FixHint(
            summary=_joined([_elsewhere_summary(facts, plan, edit, chain), *extra]),
            files=(edit.path,) if not edit.empty else (),
            reboot=True,
            commands=plan.commands,
        )
    if edit.empty and plan.pending and plan.entries is not None:
        summary = _(
            'neither {path} nor the boot entries hold "{words}" any more ({reason}): the '
            "running kernel booted before they were changed; reboot, grubby need not run again "
            "(see boot-cmdline-ignored)"
        ).format(
            path=edit.path,
            words=" ".join(p.text for p in plan.pending),
            reason=plan.entries.next_reason,
        )
        return FixHint(summary=_joined([summary, *extra]), reboot=True)
    if edit.empty:
        ignored = [s for s in missing if s.cause is Cause.ENABLE_IGNORED]
        if ignored and all(s.winner and s.winner.key == "cgroup_enable" for s in ignored):
            summary = _(
                "{path} already asks for {controllers} but this kernel ignores "
                "cgroup_enable=: update the Raspberry Pi kernel (raspberrypi/linux#6524 "
                "restored it) and reboot"
            ).format(path=edit.path, controllers=names)
        elif edit.commands:
            summary = _(
                "{path} already asks for {controllers}: the running kernel did not boot with "
                "it yet, reboot after `{command}` (see boot-cmdline-ignored)"
            ).format(path=edit.path, controllers=names, command=edit.commands[0])
        else:
            summary = _(
                "{path} already asks for {controllers}: the running kernel did not boot with "
                "it yet, reboot (see boot-cmdline-ignored)"
            ).format(path=edit.path, controllers=names)
        return FixHint(summary=_joined([summary, *extra]), files=(edit.path,), reboot=True)
    summary = edit.describe()
    if chain.raspberry_pi_firmware:
        summary = _(_OBSOLETE_NOTE).format(fix=summary)
    if plan.pending and plan.entries is not None:
        summary = _(
            '{fix} ("{words}" is already gone from the boot entries: the reboot drops it)'
        ).format(fix=summary, words=" ".join(p.text for p in plan.pending))
    return FixHint(
        summary=_joined([summary, *extra]),
        available=not plan.others,
        files=(edit.path,),
        reboot=True,
        commands=edit.commands,
    )


def _impact(names: Sequence[str], v1: bool) -> str:
    controllers = " ".join(names)
    if "memory" not in names:
        return _(
            "the kubelet cannot give pods the cgroups it validates (kubepods) and exits with "
            '"Failed to start ContainerManager"; kubeadm preflight stops with "[ERROR '
            'SystemVerification]: missing required cgroups: {controllers}"'
        ).format(controllers=controllers)
    if v1:
        return _(
            "the kubelet cannot give pods the cgroups it validates (kubepods) and exits with "
            '"Failed to start ContainerManager"; kubeadm preflight stops with "[ERROR '
            'SystemVerification]: missing required cgroups: {controllers}"; k3s exits with '
            '"Failed to find memory cgroup, you may need to add \\"cgroup_memory=1 '
            'cgroup_enable=memory\\" to your linux cmdline"; without it no pod memory limit can '
            "be enforced"
        ).format(controllers=controllers)
    return _(
        "the kubelet cannot give pods the cgroups it validates (kubepods) and exits with "
        '"Failed to start ContainerManager"; kubeadm preflight stops with "[ERROR '
        'SystemVerification]: missing required cgroups: {controllers}"; k3s exits with '
        '"failed to find memory cgroup (v2)"; without it no pod memory limit can be enforced'
    ).format(controllers=controllers)


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
            summary=_(_OBSOLETE_NOTE).format(fix=plan.edit.describe()),
            available=True,
            files=(plan.edit.path,),
            reboot=plan.edit.reboot,
        )
    yield Issue(
        title=_("the kernel will boot without the memory cgroup controller"),
        message=_(
            "This root has no /proc or /sys: a Raspberry Pi image before its first boot. "
            "Raspberry Pi kernels start with the memory controller off (in code, or by the "
            "firmware's device-tree cgroup_disable=memory in front of cmdline.txt), and "
            "{path} does not end with cgroup_enable=memory. Boot: {reason}."
        ).format(path=target.path, reason=chain.reason),
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
    causes = _joined(
        [_("{controller}: {cause}").format(controller=s.name, cause=s.cause_text) for s in missing]
    )
    fix = _fix_for(facts, missing, chain)
    mode = an.mode.value if an.mode else "?"
    if v1:
        text = ngettext(
            "{controllers} is missing from the cgroup v1 hierarchies (cgroup {mode}). "
            "Cause: {causes}.",
            "{controllers} are missing from the cgroup v1 hierarchies (cgroup {mode}). "
            "Cause: {causes}.",
            len(names),
        )
    else:
        text = ngettext(
            "{controllers} is missing from the root cgroup.controllers (cgroup {mode}). "
            "Cause: {causes}.",
            "{controllers} are missing from the root cgroup.controllers (cgroup {mode}). "
            "Cause: {causes}.",
            len(names),
        )
    text = text.format(controllers=", ".join(names), mode=mode, causes=causes)
    if by_cmdline or chain.target:
        text = _("{message} Boot: {reason}.").format(message=text, reason=chain.reason)
    yield Issue(
        title=ngettext(
            "the kernel gives no {controllers} cgroup controller",
            "the kernel gives no {controllers} cgroup controllers",
            len(names),
        ).format(controllers=", ".join(names)),
        message=text,
        evidence=tuple(evidence),
        fix=fix,
        impact=_impact(names, v1),
        remedy=controller_remedy(facts, fix),
    )


RULE = Rule(
    id="cgroup-controller-disabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("a cgroup controller the kubelet needs is not available from the kernel"),
    check=_check_disabled,
    tags=("cgroup", "kernel", "boot", "raspberry-pi"),
    applies_to=N_("every kubelet version; cgroup v1 and v2"),
)
