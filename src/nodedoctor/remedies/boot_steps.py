"""The remedies of ``cgroup-controller-disabled`` and ``boot-cmdline-ignored``: the decisions
of :mod:`nodedoctor.remedies.boot` (which controllers, the edit of which file, the commands,
the words set elsewhere than in the file) as steps.

The file edited is the one the boot loader really reads (``facts/boot``), in place; a reboot
is needed (except on a disk image before its first boot) and never done.

- ``cmdline.txt`` (Raspberry Pi firmware): stays ONE line; ``cgroup_enable=`` words go at
  its end, after the firmware's own ``cgroup_disable=memory`` (the last setting wins).
- ``/etc/default/grub``: ``GRUB_CMDLINE_LINUX`` (and a cancelling word in
  ``GRUB_CMDLINE_LINUX_DEFAULT`` or ``grub.d/*.cfg``), then the distribution's
  regeneration command (``grubby``, ``update-grub``, ``grub2-mkconfig``), live and with
  ``--apply`` only.
- ``/etc/kernel/cmdline`` (kernel-install, UKIs).

On RHEL 8+ the words outside ``/etc/default/grub`` come from the BLS entries as
``controller_fix`` reads them: grubby runs only for the words that keep the controller off
in the next boot's entry; when the entry's words turn it on (``pending``) the edit is empty,
so the remedy is the reboot and the instruction the advice gives, never grubby again.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from nodedoctor.facts import Facts
from nodedoctor.facts.boot import BootChain, BootFileKind, boot_chain
from nodedoctor.i18n import _
from nodedoctor.model import FixHint
from nodedoctor.remedies.boot import CmdlineEdit, ControllerFix, controller_fix, plan_cmdline_edit
from nodedoctor.remedies.steps import (
    CmdlineFileEdit,
    Command,
    GrubVariableEdit,
    Instruction,
    Reboot,
    Remedy,
    Step,
    WordChange,
    and_join,
    refused,
)


def _changes(
    edit: CmdlineEdit, source: str, variable: str | None, chain: BootChain
) -> tuple[WordChange, ...]:
    """The removals of ``edit`` that sit in ``source`` (and ``variable``), with positions
    counted within that file or variable."""
    target = chain.target
    params = [
        p
        for p in (target.params if target else ())
        if p.source == source and p.variable == variable
    ]
    first = min((p.position for p in params), default=1)
    return tuple(
        WordChange(r.param.position - first + 1, r.param.text, r.replacement)
        for r in edit.remove
        if r.param.source == source and r.param.variable == variable
    )


def cmdline_steps(edit: CmdlineEdit, chain: BootChain) -> list[Step]:
    """The file edits, commands and reboot (when the edit says one is needed) of ``edit``."""
    what = edit.describe()
    steps: list[Step] = []
    if edit.kind in (BootFileKind.RPI_CMDLINE, BootFileKind.KERNEL_CMDLINE):
        steps.append(
            CmdlineFileEdit(
                path=edit.path,
                description=what,
                add=edit.add,
                changes=_changes(edit, edit.path, None, chain),
                add_line=edit.line,
                join=edit.join_lines,
                one_line=edit.kind is BootFileKind.RPI_CMDLINE,
            )
        )
    else:
        targets: dict[tuple[str, str | None], None] = {(edit.path, edit.variable): None}
        for r in edit.remove:
            targets[(r.param.source, r.param.variable)] = None
        for source, variable in targets:
            lines = [
                r.param.line
                for r in edit.remove
                if r.param.source == source and r.param.variable == variable
            ]
            line = lines[0] if lines else None
            own = (source, variable) == (edit.path, edit.variable)
            if own and line is None:
                line = edit.line
            steps.append(
                GrubVariableEdit(
                    path=source,
                    variable=variable or "GRUB_CMDLINE_LINUX",
                    line=line,
                    description=what,
                    add=edit.add if own else (),
                    changes=_changes(edit, source, variable, chain),
                )
            )
    for command in edit.commands:
        steps.append(
            Command(tuple(shlex.split(command)), _("regenerate the boot loader configuration"))
        )
    if edit.kind is BootFileKind.KERNEL_CMDLINE:
        steps.append(
            Instruction(
                _(
                    "regenerate the current kernel's boot entry before rebooting: "
                    "kernel-install add <version> <kernel image> (kernel-install(8))"
                ),
                _(
                    "kernel-install reads /etc/kernel/cmdline only when it installs a kernel; "
                    "which kernel image and entry to rebuild depends on the boot setup (BLS, UKI)"
                ),
            )
        )
    if edit.reboot:
        steps.append(Reboot())
    return steps


def _elsewhere_instruction(plan: ControllerFix, edit: CmdlineEdit) -> Instruction:
    """The disabling words the running kernel got from outside the boot file: with no edit
    to make, the command that removes them (grubby over the boot entries) would run without
    any edit it follows, so it is the user's to run; where it is unknown, only the user knows
    the place."""
    words = " ".join(p.text for p in plan.elsewhere)
    if plan.elsewhere_commands:
        commands = and_join([f"`{c}`" for c in plan.elsewhere_commands])
        return Instruction(
            _('remove "{words}" from the boot entries: {commands}, then reboot').format(
                words=words, commands=commands
            ),
            _(
                "{path} already says what is needed; the boot entries are not a file "
                "nodedoctor edits, and a reboot alone does not drop the words"
            ).format(path=edit.path),
        )
    return Instruction(
        _(
            'remove "{words}" from the boot configuration the running kernel got it from '
            "(not {path}), then reboot"
        ).format(words=words, path=edit.path),
        _("the running kernel did not get these words from {path}, the file it knows").format(
            path=edit.path
        ),
    )


def controller_remedy(facts: Facts, advice: FixHint | None) -> Remedy:
    """``cgroup-controller-disabled``: carry out ``facts.get(controller_fix)``, the decision
    its ``advice`` (the finding's fix) shows."""
    plan = facts.get(controller_fix)
    chain = facts.get(boot_chain)
    if not plan.by_cmdline:
        return refused(_("no missing controller can be turned on from the kernel command line"))
    edit = plan.edit
    if edit is None:
        return refused(_("no boot file to edit: {reason}").format(reason=chain.reason))
    steps: list[Step] = []
    if not edit.empty:
        # In the order of plan.commands (what the rule's advice lists).
        for command in plan.elsewhere_commands:
            steps.append(
                Command(tuple(shlex.split(command)), _("remove the words the boot entries hold"))
            )
        steps += cmdline_steps(edit, chain)
        if plan.elsewhere and not plan.elsewhere_commands:
            steps.append(_elsewhere_instruction(plan, edit))
    elif plan.elsewhere:
        steps.append(_elsewhere_instruction(plan, edit))
    else:
        if edit.reboot:
            steps.append(Reboot())
        steps.append(
            Instruction(
                advice.summary
                if advice
                else _("reboot: {path} already asks for it").format(path=edit.path),
                _(
                    "{path} already says what is needed; only a reboot (or a newer kernel) "
                    "is missing, and nodedoctor never reboots"
                ).format(path=edit.path),
            )
        )
        return Remedy(tuple(steps))
    if plan.others:
        steps.append(
            Instruction(
                advice.summary if advice else _("see the finding's fix"),
                _("part of this fix is not a file edit (a kernel or mount the tool cannot change)"),
            )
        )
    return Remedy(tuple(steps))


def _stub_words(chain: BootChain) -> Sequence[str]:
    return list(dict.fromkeys(p.text for stub in chain.stubs for p in stub.params))


def cmdline_ignored_remedy(facts: Facts, advice: FixHint | None) -> Remedy:
    """``boot-cmdline-ignored``: join a split ``cmdline.txt``; a stub or a pending reboot is
    an instruction (``advice``: the finding's fix)."""
    chain = facts.get(boot_chain)
    target = chain.target
    if target is not None and target.split:
        edit = plan_cmdline_edit(chain, [])
        if edit is not None and not edit.empty:
            return Remedy(tuple(cmdline_steps(edit, chain)))
    words = _stub_words(chain)
    if words and target is not None:
        return Remedy(
            (
                Instruction(
                    _(
                        'the stub\'s words ("{words}") have no effect; put the ones you need on '
                        "the single line of {path} (cgroup-controller-disabled's fix does it for "
                        "missing controllers)"
                    ).format(words=" ".join(words), path=target.path),
                    _(
                        "which of a stub's words are wanted is the user's call; the stub itself "
                        "is harmless"
                    ),
                ),
            )
        )
    if advice and advice.commands:
        # The boot file is right but the boot loader's own copy (RHEL's BLS entries, a
        # grub.cfg) is not regenerated: the advice's command does it. A plan runs boot-loader
        # commands only after an edit of its own, so it is an instruction here.
        why = _(
            "the file is already right, but the boot loader has not taken its words yet: "
            "run {commands}, then reboot (nodedoctor runs boot-loader commands only after an "
            "edit of its own, and never reboots)"
        ).format(commands=and_join([f"`{c}`" for c in advice.commands]))
    else:
        why = _(
            "the file is already right; the running kernel needs a reboot and nodedoctor "
            "never reboots"
        )
    return Remedy((Reboot(), Instruction(advice.summary if advice else _("reboot"), why)))
