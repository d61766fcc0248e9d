"""The kernel command-line edit that turns cgroup controllers on, and the whole fix of
``cgroup-controller-disabled``; the ``cgroup-controller-disabled`` rule shows it and builds
its remedy from it (remedies/boot_steps.py).

``facts.get(controller_fix)`` is the simplest entry point: the missing controllers a
command-line edit turns on (``by_cmdline``), the planned ``edit``, ``others`` no edit can
give, and ``elsewhere``: disabling words /proc/cmdline shows that are not in the boot file
(RHEL boot entries: ``grubby --update-kernel=ALL --remove-args=...``). With known BLS entries
(facts/boot ``boot_entries``) ``elsewhere`` holds the words that keep a controller off at the
next boot (``BootEntries.keeping_off``, the same verdict as for /proc/cmdline, as the entry
writes them), and grubby is planned only for those; a disabling word of the running kernel
whose controller the next boot turns on is ``pending`` (a reboot, not grubby).

``plan_cmdline_edit(chain, enable=[...], v1=...)`` turns "these controllers must be on" into a
:class:`CmdlineEdit`: ``path``, ``kind``, ``line``/``variable`` to edit, ``add`` (tokens to
append at the end of that line/variable, e.g. ``cgroup_enable=memory``; last setting wins),
``remove`` (:class:`ParamRemoval`: a token as written, with its file/line/position, and its
``replacement`` text or ``None`` to delete it — e.g. a ``cgroup_disable=memory`` that sits
in the file itself), ``join_lines`` (a split ``cmdline.txt`` must become one line, the later
lines' words appended to the first), ``commands`` and ``reboot``. Idempotent: a file that
already says what is needed plans no change (``CmdlineEdit.empty``).

Sources: research incidents.md §1 (the firmware's device-tree ``cgroup_disable=memory`` in
front of cmdline.txt, the last setting wins).
"""

from __future__ import annotations

from collections.abc import Sequence

from nodedoctor._record import field, record
from nodedoctor.facts import Facts
from nodedoctor.facts.boot import (
    BootChain,
    BootEntries,
    BootFileKind,
    PlacedParam,
    boot_chain,
    boot_entries,
    controller_verdict,
)
from nodedoctor.facts.cgroups import (
    CMDLINE_CAUSES,
    Cause,
    CgroupMode,
    ControllerStatus,
    controller_analysis,
    pi_image,
)
from nodedoctor.i18n import N_, _
from nodedoctor.remedies.steps import and_join, then_join

# --------------------------------------------------------------------------------------
# the edit of the boot file


@record
class ParamRemoval:
    param: PlacedParam
    #: The token's new text (other controllers kept), or ``None`` to delete it.
    replacement: str | None


@record
class CmdlineEdit:
    path: str
    kind: BootFileKind
    line: int | None
    variable: str | None
    add: tuple[str, ...] = ()
    remove: tuple[ParamRemoval, ...] = ()
    join_lines: bool = False
    commands: tuple[str, ...] = ()
    reboot: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.join_lines)

    def describe(self) -> str:
        parts: list[str] = []
        if self.join_lines:
            parts.append(_("join {path} into a single line").format(path=self.path))
        if self.remove:
            words = ", ".join(
                f'"{r.param.text}"' + (f' -> "{r.replacement}"' if r.replacement else "")
                for r in self.remove
            )
            change = (
                _("in {path} change {words}")
                if any(r.replacement for r in self.remove)
                else _("remove {words} from {path}")
            )
            parts.append(change.format(path=self.path, words=words))
        if self.add:
            where = (
                _("{variable} in {path}").format(variable=self.variable, path=self.path)
                if self.variable
                else self.path
            )
            add = (
                _('add "{words}" to {where} (at the end of the line, which must stay one line)')
                if (self.kind is BootFileKind.RPI_CMDLINE)
                else _('add "{words}" to {where}')
            )
            parts.append(add.format(words=" ".join(self.add), where=where))
        if self.commands:
            commands = and_join([f"`{c}`" for c in self.commands])
            parts.append(_("run {commands}").format(commands=commands))
        parts.extend(_(note) for note in self.notes)
        if self.reboot:
            parts.append(_("reboot"))
        return then_join(parts)


def _without(param: PlacedParam, names: set[str]) -> str | None:
    kept = [v for v in param.values if v not in names]
    return f"{param.key}={','.join(kept)}" if kept else None


#: Characters that a shell or ``shlex.split`` treats specially inside double quotes.
_UNSAFE_IN_QUOTES = frozenset('"\\$`')


def grubby_command(option: str, words: str) -> str:
    """``grubby --update-kernel=ALL --OPTION="WORDS"``, written the way users type it and
    safe to give back to ``shlex.split`` (the fix engine runs it so): words that would not
    survive double quotes are shell-quoted instead.

    >>> grubby_command("args", "cgroup_enable=memory cgroup_enable=cpuset")
    'grubby --update-kernel=ALL --args="cgroup_enable=memory cgroup_enable=cpuset"'
    >>> print(grubby_command("remove-args", 'cgroup_disable="memory"'))
    grubby --update-kernel=ALL '--remove-args=cgroup_disable="memory"'
    """
    if _UNSAFE_IN_QUOTES.isdisjoint(words):
        return f'grubby --update-kernel=ALL --{option}="{words}"'
    import shlex

    return f"grubby --update-kernel=ALL {shlex.quote(f'--{option}={words}')}"


def plan_cmdline_edit(
    chain: BootChain, enable: Sequence[str], *, v1: bool = False, reboot: bool = True
) -> CmdlineEdit | None:
    """The edit of the target boot file that turns ``enable`` on at the next boot; ``None``
    when there is no target file. An edit may be :attr:`CmdlineEdit.empty` when the file
    already asks for everything (a reboot or a kernel change is what is missing).
    ``reboot=False``: a disk image before its first boot (its first boot reads the file)."""
    target = chain.target
    if target is None:
        return None
    wanted = set(enable)
    join = target.split
    # After the fix the whole file is one line, so every parameter in it counts.
    params = target.params if join else target.read_params
    removals: list[ParamRemoval] = []
    for p in params:
        hits: set[str] = set()
        if p.key == "cgroup_disable":
            hits = wanted & set(p.values)
        elif p.key == "cgroup_memory" and p.value == "0" and "memory" in wanted:
            hits = {"memory"}
        elif v1 and p.key == "cgroup_no_v1":
            hits = wanted & set(p.values) or (wanted if "all" in p.values else set())
            if "all" in p.values and hits:
                removals.append(ParamRemoval(param=p, replacement=None))
                continue
        if hits:
            replacement = None if p.key == "cgroup_memory" else _without(p, hits)
            removals.append(ParamRemoval(param=p, replacement=replacement))
    add: list[str] = []
    if chain.raspberry_pi_firmware:
        # The firmware puts cgroup_disable=memory in front of the file: only a later
        # cgroup_enable= (downstream Raspberry Pi kernels) turns it back on.
        # cgroup_memory=1 is obsolete (current kernels ignore it): never rely on it.
        removed = {r.param for r in removals}
        kept = [p for p in params if p not in removed and p.key != "cgroup_memory"]
        for name in enable:
            if controller_verdict(kept, name).enabled is not True:
                add.append(f"cgroup_enable={name}")
    commands = chain.apply_commands
    if chain.kind is BootFileKind.GRUB and commands and commands[0].startswith("grubby"):
        args = " ".join(add)
        drop = " ".join(r.param.text for r in removals)
        commands = tuple(
            c
            for c in (
                grubby_command("args", args) if args else "",
                grubby_command("remove-args", drop) if drop else "",
                *(grubby_command("args", r.replacement) for r in removals if r.replacement),
            )
            if c
        )
    edit = CmdlineEdit(
        path=target.path,
        kind=target.kind or BootFileKind.RPI_CMDLINE,
        line=target.edit_line,
        variable=target.edit_variable,
        add=tuple(add),
        remove=tuple(removals),
        join_lines=join,
        commands=commands,
        notes=(
            (
                N_(
                    "re-run `kernel-install add <version> <kernel image>` for the kernel to "
                    "boot (kernel-install reads /etc/kernel/cmdline only when it installs a "
                    "kernel)"
                ),
            )
            if target.kind is BootFileKind.KERNEL_CMDLINE
            else ()
        ),
        reboot=reboot,
    )
    if edit.empty:
        return CmdlineEdit(
            path=edit.path, kind=edit.kind, line=edit.line, variable=edit.variable, reboot=reboot
        )
    return edit


# --------------------------------------------------------------------------------------
# the fix of cgroup-controller-disabled


@record
class ControllerFix:
    """What turns the missing controllers on: one edit of the boot file, and what no edit can
    do. The ``cgroup-controller-disabled`` rule and the fix engine both read this."""

    #: The missing controllers a command-line edit turns on.
    by_cmdline: tuple[str, ...]
    #: The edit of the boot file (``None``: no boot file in the root); may be ``empty``.
    edit: CmdlineEdit | None
    #: Missing controllers no command-line edit can give (kernel built without, not mounted).
    others: tuple[ControllerStatus, ...]
    #: Disabling words the running kernel got from somewhere else than the boot file; with
    #: known BLS entries, the next boot's words that keep the controller off (which may be
    #: written differently from the running word).
    elsewhere: tuple[PlacedParam, ...] = ()
    #: What removes ``elsewhere`` from where it is written (RHEL boot entries: grubby); empty
    #: when that place is unknown.
    elsewhere_commands: tuple[str, ...] = ()
    #: Disabling words the running kernel has that neither the boot file holds nor the next
    #: boot's BLS entry acts on any more (its own verdict turns the controller on: grubby
    #: already removed them): only a reboot is missing. Each is the /proc/cmdline word.
    pending: tuple[PlacedParam, ...] = ()
    #: The RHEL boot entries when they tell the next boot's parameters (``elsewhere`` then
    #: holds the entries' own words, with their file and line), else ``None``.
    entries: BootEntries | None = None

    @property
    def commands(self) -> tuple[str, ...]:
        """Every command of the fix, in order: ``elsewhere_commands``, then the edit's."""
        return self.elsewhere_commands + (self.edit.commands if self.edit else ())


def _image_fix(facts: Facts) -> ControllerFix:
    """A Raspberry Pi disk image before its first boot (no /proc, no /sys): every current Pi
    kernel starts with memory off, so cmdline.txt must turn it on; no reboot, the first boot
    reads it."""
    chain = facts.get(boot_chain)
    target = chain.target
    if not pi_image(facts) or target is None:
        return ControllerFix(by_cmdline=(), edit=None, others=())
    kept = [p for p in target.read_params if p.key != "cgroup_memory"]
    if controller_verdict(kept, "memory").enabled:
        return ControllerFix(by_cmdline=(), edit=None, others=())
    return ControllerFix(
        by_cmdline=("memory",),
        edit=plan_cmdline_edit(chain, ["memory"], reboot=False),
        others=(),
    )


def controller_fix(facts: Facts) -> ControllerFix:
    an = facts.get(controller_analysis)
    if not an.known:
        return _image_fix(facts)
    missing = an.missing()
    chain = facts.get(boot_chain)
    by_cmdline = [s.name for s in missing if s.cause in CMDLINE_CAUSES]
    if chain.raspberry_pi_firmware:
        # A Pi kernel also honours cgroup_enable= for a controller nothing else explains.
        by_cmdline += [s.name for s in missing if s.cause is Cause.UNKNOWN]
    others = tuple(s for s in missing if s.name not in by_cmdline)
    if not by_cmdline:
        return ControllerFix(by_cmdline=(), edit=None, others=others)
    edit = plan_cmdline_edit(chain, by_cmdline, v1=an.mode is not CgroupMode.V2)
    elsewhere: list[PlacedParam] = []
    pending: list[PlacedParam] = []
    target = chain.target
    entries = facts.get(boot_entries) if chain.grubby else None
    if entries is not None and not entries.known:
        entries = None
    if target is not None and not chain.raspberry_pi_firmware:
        written = {p.text for p in target.params}
        removed = {r.param.text for r in edit.remove} if edit else set()
        for s in missing:
            w = s.winner
            if s.cause not in (Cause.CMDLINE_DISABLED, Cause.NO_V1) or w is None:
                continue
            if entries is None:
                if w.text not in written:
                    # No readable entries: the word is assumed to be in them (grubby removes
                    # it if so, and is harmless if not).
                    elsewhere.append(w)
                continue
            # The next boot's own verdict decides, not the running word's text: an entry
            # with cgroup_disable=memory,hugetlb still keeps memory off after a reboot
            # when /proc/cmdline says cgroup_disable=memory.
            held = entries.keeping_off(s.name, no_v1=s.cause is Cause.NO_V1)
            if held:
                # Its exact words, for grubby --remove-args (the edit's own grubby run
                # already removes the words the boot file holds).
                elsewhere.extend(p for p in held if p.text not in removed)
            elif w.text not in written:
                pending.append(w)
    words = " ".join(dict.fromkeys(p.text for p in elsewhere))
    commands = (grubby_command("remove-args", words),) if chain.grubby and words else ()
    return ControllerFix(
        by_cmdline=tuple(by_cmdline),
        edit=edit,
        others=others,
        elsewhere=tuple(dict.fromkeys(elsewhere)),
        elsewhere_commands=commands,
        pending=tuple(dict.fromkeys(pending)),
        entries=entries,
    )
