"""Boot command-line fixers: the file the boot loader really reads, edited in place; a
reboot is needed (except on a disk image before its first boot) and never done.

What to change is never decided here: ``cgroup-controller-disabled`` carries out
``facts.get(controller_fix)`` (remedies/boot.py), the same decision the rule's advice shows
(which controllers, the edit of which file, the commands, the words set elsewhere than in
the file); ``facts/boot`` decides which file the boot loader reads.

- ``cmdline.txt`` (Raspberry Pi firmware): stays ONE line; ``cgroup_enable=`` words go at
  its end, after the firmware's own ``cgroup_disable=memory`` (the last setting wins).
- ``/etc/default/grub``: ``GRUB_CMDLINE_LINUX`` (and a cancelling word in
  ``GRUB_CMDLINE_LINUX_DEFAULT`` or ``grub.d/*.cfg``), then the distribution's
  regeneration command (``grubby``, ``update-grub``, ``grub2-mkconfig``), live and with
  ``--apply`` only.
- ``/etc/kernel/cmdline`` (kernel-install, UKIs).

On RHEL 8+ the words outside ``/etc/default/grub`` come from the BLS entries as
``controller_fix`` reads them (``facts.boot.boot_entries``): grubby runs only for the words
that keep the controller off in the next boot's entry (its own verdict, written as the entry
writes them, e.g. ``cgroup_disable=memory,hugetlb`` for a running ``cgroup_disable=memory``);
when the entry's words turn it on (``plan.pending``) the edit is empty, so the plan is the
reboot and the instruction the advice gives, never grubby again.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from nodedoctor.facts.boot import BootChain, BootFileKind, boot_chain
from nodedoctor.fix.fixers.base import FixerEntry
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.textedit import EditError, TokenChange, edit_cmdline_lines, edit_grub_variable
from nodedoctor.model import Finding
from nodedoctor.remedies.boot import CmdlineEdit, ControllerFix, controller_fix, plan_cmdline_edit

CONTROLLER_DISABLED = "cgroup-controller-disabled"
CMDLINE_IGNORED = "boot-cmdline-ignored"


def _changes(
    edit: CmdlineEdit, source: str, variable: str | None, chain: BootChain
) -> list[TokenChange]:
    """The removals of ``edit`` that sit in ``source`` (and ``variable``), with positions
    counted within that file or variable."""
    target = chain.target
    params = [
        p
        for p in (target.params if target else ())
        if p.source == source and p.variable == variable
    ]
    first = min((p.position for p in params), default=1)
    return [
        TokenChange(r.param.position - first + 1, r.param.text, r.replacement)
        for r in edit.remove
        if r.param.source == source and r.param.variable == variable
    ]


def apply_cmdline_edit(ws: Workspace, edit: CmdlineEdit, chain: BootChain, rule: str) -> None:
    """Turn ``remedies/boot.py``'s edit into file edits, commands and the reboot (when the edit
    says one is needed)."""
    what = edit.describe()
    if edit.kind in (BootFileKind.RPI_CMDLINE, BootFileKind.KERNEL_CMDLINE):
        text = ws.read_text(edit.path)
        if text is None:
            raise EditError("cannot read it as UTF-8 text", edit.path).at(edit.path)
        try:
            new = edit_cmdline_lines(
                text,
                add=edit.add,
                changes=_changes(edit, edit.path, None, chain),
                add_line=edit.line,
                join=edit.join_lines,
            )
        except EditError as exc:
            raise exc.at(edit.path) from None
        fmt = "cmdline" if edit.kind is BootFileKind.RPI_CMDLINE else "text"
        ws.write_text(edit.path, new, rule=rule, description=what, fmt=fmt)
    else:
        targets: dict[tuple[str, str | None], None] = {(edit.path, edit.variable): None}
        for r in edit.remove:
            targets[(r.param.source, r.param.variable)] = None
        for source, variable in targets:
            text = ws.read_text(source)
            if text is None:
                raise EditError("cannot read it as UTF-8 text", source).at(source)
            changes = _changes(edit, source, variable, chain)
            lines = [
                r.param.line
                for r in edit.remove
                if r.param.source == source and r.param.variable == variable
            ]
            line = lines[0] if lines else None
            if (source, variable) == (edit.path, edit.variable) and line is None:
                line = edit.line
            add = edit.add if (source, variable) == (edit.path, edit.variable) else ()
            try:
                new = edit_grub_variable(
                    text, variable or "GRUB_CMDLINE_LINUX", line, add=add, changes=changes
                )
            except EditError as exc:
                raise exc.at(source) from None
            ws.write_text(source, new, rule=rule, description=what, fmt="grub")
    for command in edit.commands:
        ws.run(tuple(shlex.split(command)), rule, "regenerate the boot loader configuration")
    if edit.kind is BootFileKind.KERNEL_CMDLINE:
        ws.instruct(
            rule,
            "regenerate the current kernel's boot entry before rebooting: "
            "kernel-install add <version> <kernel image> (kernel-install(8))",
            "kernel-install reads /etc/kernel/cmdline only when it installs a kernel; which "
            "kernel image and entry to rebuild depends on the boot setup (BLS, UKI)",
        )
    if edit.reboot:
        ws.need_reboot(rule)


def _elsewhere_instruction(
    ws: Workspace, plan: ControllerFix, edit: CmdlineEdit, rule: str
) -> None:
    """The disabling words the running kernel got from outside the boot file: with no edit
    to make, the command that removes them (grubby over the boot entries) would run without
    any edit it follows, so it is the user's to run; where it is unknown, only the user knows
    the place."""
    words = " ".join(p.text for p in plan.elsewhere)
    if plan.elsewhere_commands:
        text = (
            f'remove "{words}" from the boot entries: '
            + " and ".join(f"`{c}`" for c in plan.elsewhere_commands)
            + ", then reboot"
        )
        why = (
            f"{edit.path} already says what is needed; the boot entries are not a file "
            "nodedoctor edits, and a reboot alone does not drop the words"
        )
    else:
        text = (
            f'remove "{words}" from the boot configuration the running kernel got it from '
            f"(not {edit.path}), then reboot"
        )
        why = f"the running kernel did not get these words from {edit.path}, the file it knows"
    ws.instruct(rule, text, why)


def fix_controller_disabled(ws: Workspace, finding: Finding) -> None:
    """Carry out ``facts.get(controller_fix)``, the decision the rule's advice shows."""
    plan = ws.facts.get(controller_fix)
    chain = ws.facts.get(boot_chain)
    if not plan.by_cmdline:
        raise EditError("no missing controller can be turned on from the kernel command line")
    edit = plan.edit
    if edit is None:
        raise EditError(f"no boot file to edit: {chain.reason}")
    if not edit.empty:
        # In the order of plan.commands (what the rule's advice lists).
        for command in plan.elsewhere_commands:
            ws.run(
                tuple(shlex.split(command)), finding.rule, "remove the words the boot entries hold"
            )
        apply_cmdline_edit(ws, edit, chain, finding.rule)
        if plan.elsewhere and not plan.elsewhere_commands:
            _elsewhere_instruction(ws, plan, edit, finding.rule)
    elif plan.elsewhere:
        _elsewhere_instruction(ws, plan, edit, finding.rule)
    else:
        if edit.reboot:
            ws.need_reboot(finding.rule)
        ws.instruct(
            finding.rule,
            finding.fix.summary if finding.fix else f"reboot: {edit.path} already asks for it",
            f"{edit.path} already says what is needed; only a reboot (or a newer kernel) "
            "is missing, and nodedoctor never reboots",
        )
        return
    if plan.others:
        ws.instruct(
            finding.rule,
            finding.fix.summary if finding.fix else "see the finding's fix",
            "part of this fix is not a file edit (a kernel or mount the tool cannot change)",
        )


def _stub_words(chain: BootChain) -> Sequence[str]:
    return list(dict.fromkeys(p.text for stub in chain.stubs for p in stub.params))


def fix_cmdline_ignored(ws: Workspace, finding: Finding) -> None:
    """Join a split ``cmdline.txt``; a stub or a pending reboot is an instruction."""
    chain = ws.facts.get(boot_chain)
    target = chain.target
    if target is not None and target.split:
        edit = plan_cmdline_edit(chain, [])
        if edit is not None and not edit.empty:
            apply_cmdline_edit(ws, edit, chain, finding.rule)
            return
    words = _stub_words(chain)
    if words and target is not None:
        ws.instruct(
            finding.rule,
            f'the stub\'s words ("{" ".join(words)}") have no effect; put the ones you need '
            f"on the single line of {target.path} (cgroup-controller-disabled's fix does it "
            "for missing controllers)",
            "which of a stub's words are wanted is the user's call; the stub itself is harmless",
        )
        return
    ws.need_reboot(finding.rule)
    if finding.fix and finding.fix.commands:
        # The boot file is right but the boot loader's own copy (RHEL's BLS entries, a
        # grub.cfg) is not regenerated: the advice's command does it. A plan runs boot-loader
        # commands only after an edit of its own (build_plan), so it is an instruction here.
        why = (
            "the file is already right, but the boot loader has not taken its words yet: "
            f"run {' and '.join(f'`{c}`' for c in finding.fix.commands)}, then reboot "
            "(nodedoctor runs boot-loader commands only after an edit of its own, and never "
            "reboots)"
        )
    else:
        why = (
            "the file is already right; the running kernel needs a reboot and nodedoctor "
            "never reboots"
        )
    ws.instruct(finding.rule, finding.fix.summary if finding.fix else "reboot", why)


FIXERS = (
    FixerEntry(CONTROLLER_DISABLED, fix_controller_disabled),
    FixerEntry(CMDLINE_IGNORED, fix_cmdline_ignored),
)
