"""One applier per kind of remedy step (``remedies/steps.py``): each records into the
:class:`~nodedoctor.fix.plan.Workspace` what its step asks for, and decides nothing the
remedy already decided.

An applier reads a file through the workspace (the bytes as planned so far, so two steps on
one file chain) and edits it with a format-preserving editor (``textedit``, ``tomledit``)
that verifies its own result. It raises :class:`~nodedoctor.fix.textedit.EditError` for a
file it cannot edit safely (unreadable, unparseable, not as the facts said); the planner
records that as a refusal naming the file and plans nothing for the finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nodedoctor.fix.lineedit import add_module, comment_fstab_lines, set_sysctl
from nodedoctor.fix.plan import Workspace
from nodedoctor.fix.textedit import (
    EditError,
    TokenChange,
    edit_cmdline_lines,
    edit_grub_variable,
    remove_flag,
    remove_yaml_key,
    set_flag_line,
    set_yaml_key,
)
from nodedoctor.fix.tomledit import insert_top_key, parse, plain, remove_from_array, set_key
from nodedoctor.i18n import N_, _
from nodedoctor.model import Finding
from nodedoctor.remedies import steps as s
from nodedoctor.remedies.containerd import version_2_refusal


def apply_steps(ws: Workspace, steps: Sequence[s.Step], finding: Finding) -> None:
    """Record ``steps`` of ``finding``'s remedy, in order."""
    for step in steps:
        _APPLIERS[type(step)](ws, step, finding)


_NOT_UTF8 = N_("cannot read it as UTF-8 text")
_UNREADABLE = N_("cannot read it")


def _text(ws: Workspace, path: str, unreadable: str = _NOT_UTF8) -> str:
    text = ws.read_text(path)
    if text is None:
        raise EditError(_(unreadable), path).at(path)
    return text


def _tokens(changes: Sequence[s.WordChange]) -> list[TokenChange]:
    return [TokenChange(c.position, c.text, c.replacement) for c in changes]


def _cmdline_file(ws: Workspace, step: s.CmdlineFileEdit, finding: Finding) -> None:
    text = _text(ws, step.path)
    try:
        new = edit_cmdline_lines(
            text,
            add=step.add,
            changes=_tokens(step.changes),
            add_line=step.add_line,
            join=step.join,
        )
    except EditError as exc:
        raise exc.at(step.path) from None
    fmt = "cmdline" if step.one_line else "text"
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt=fmt)


def _grub_variable(ws: Workspace, step: s.GrubVariableEdit, finding: Finding) -> None:
    text = _text(ws, step.path)
    try:
        new = edit_grub_variable(
            text, step.variable, step.line, add=step.add, changes=_tokens(step.changes)
        )
    except EditError as exc:
        raise exc.at(step.path) from None
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="grub")


def _toml_version(text: str, path: str) -> int:
    try:
        data = plain(parse(text))
    except EditError as exc:
        raise exc.at(path) from None
    version = data.get("version", 1)
    return version if isinstance(version, int) else 1


def _toml_text(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int) else f'"{value}"'


def _toml_set(ws: Workspace, step: s.TomlSet, finding: Finding) -> None:
    text = _text(ws, step.path)
    table, literal = step.table, False
    if step.tables:
        # The table in the file's version as planned (an earlier step may add `version = 2`).
        version = _toml_version(text, step.path)
        table = dict(step.tables).get(version, step.table)
        literal = version >= 3
    try:
        new = set_key(text, table, step.key, step.value, literal_keys=literal)
    except EditError as exc:
        raise exc.at(step.path) from None
    where = ".".join(f'"{part}"' if "." in part else part for part in table)
    description = step.description or _("{key} = {value} in [{table}]").format(
        key=step.key, value=_toml_text(step.value), table=where
    )
    ws.write_text(step.path, new, rule=finding.rule, description=description, fmt="toml")


def _toml_array_remove(ws: Workspace, step: s.TomlArrayRemove, finding: Finding) -> None:
    text = _text(ws, step.path)
    try:
        new = remove_from_array(text, step.key, step.values)
    except EditError as exc:
        raise exc.at(step.path) from None
    if new == text:
        raise EditError(step.unchanged, step.path)
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="toml")


def _containerd_version_2(ws: Workspace, step: s.ContainerdVersion2, finding: Finding) -> None:
    edited = False
    for path in step.paths:
        text = ws.read_text(path)
        if text is None:
            continue
        try:
            data = plain(parse(text))
        except EditError as exc:
            raise exc.at(path) from None
        plugins = data.get("plugins")
        full_names = isinstance(plugins, dict) and any("." in str(k) for k in plugins)
        if "version" in data or not full_names:
            continue
        why_not = version_2_refusal(data)
        if why_not is not None:
            raise EditError(
                _("adding version = 2 is not safe: {why}").format(why=why_not), path
            ).at(path)
        new = insert_top_key(text, "version", 2)
        ws.write_text(path, new, rule=finding.rule, description=step.description, fmt="toml")
        edited = True
    if not edited:
        raise EditError(_("no safe edit for this: follow the finding's fix by hand"))


def _yaml_set(ws: Workspace, step: s.YamlSet, finding: Finding) -> None:
    text = _text(ws, step.path, _UNREADABLE)
    try:
        new = set_yaml_key(text, step.key, step.value)
    except EditError as exc:
        raise exc.at(step.path) from None
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="yaml")


def _yaml_remove(ws: Workspace, step: s.YamlRemove, finding: Finding) -> None:
    text = _text(ws, step.path, _UNREADABLE)
    try:
        new = remove_yaml_key(text, step.key)
    except EditError as exc:
        raise exc.at(step.path) from None
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="yaml")


def _flag_set(ws: Workspace, step: s.FlagSet, finding: Finding) -> None:
    text = _text(ws, step.path, _UNREADABLE)
    new = set_flag_line(text, step.flag, step.value)
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="text")


def _flag_remove(ws: Workspace, step: s.FlagRemove, finding: Finding) -> None:
    text = _text(ws, step.path, _UNREADABLE)
    new = remove_flag(text, step.flag)
    if new == text:
        raise EditError(
            _("{flag} is not written where the facts say").format(flag=step.flag), step.path
        ).at(step.path)
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="text")


def _write_file(ws: Workspace, step: s.WriteFile, finding: Finding) -> None:
    existing = ws.read_text(step.path)
    if existing is not None and existing != step.text:
        if step.own_mark is None:
            raise EditError(
                _("{path} exists with other content; edit it by hand").format(path=step.path),
                step.path,
            )
        if not existing.startswith(step.own_mark):
            raise EditError(
                _("{path} exists and is not nodedoctor's").format(path=step.path), step.path
            )
    ws.write_text(
        step.path, step.text, rule=finding.rule, description=step.description, fmt=step.fmt
    )


def _sysctl_set(ws: Workspace, step: s.SysctlSet, finding: Finding) -> None:
    text = ws.read_text(step.path)
    if text is None and ws.exists(step.path):
        raise EditError(_(_NOT_UTF8), step.path).at(step.path)
    try:
        new = set_sysctl(text, step.key, step.value, step.header)
    except EditError as exc:
        raise exc.at(step.path) from None
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="text")


def _module_load(ws: Workspace, step: s.ModuleLoad, finding: Finding) -> None:
    text = ws.read_text(step.path)
    if text is None and ws.exists(step.path):
        raise EditError(_(_NOT_UTF8), step.path).at(step.path)
    try:
        new = add_module(text, step.module, step.header)
    except EditError as exc:
        raise exc.at(step.path) from None
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="text")


def _fstab_comment(ws: Workspace, step: s.FstabComment, finding: Finding) -> None:
    text = _text(ws, step.path)
    try:
        new = comment_fstab_lines(text, [(step.line, step.text.strip())])
    except EditError as exc:
        raise exc.at(step.path) from None
    ws.write_text(step.path, new, rule=finding.rule, description=step.description, fmt="text")


def _command(ws: Workspace, step: s.Command, finding: Finding) -> None:
    ws.run(step.argv, finding.rule, _(step.why))


def _run_now(ws: Workspace, step: s.RunNow, finding: Finding) -> None:
    ws.run(step.argv, finding.rule, _(step.why))


def _restart(ws: Workspace, step: s.Restart, finding: Finding) -> None:
    ws.restart(step.service, finding.rule, manager=step.manager)


def _reboot(ws: Workspace, _step: s.Reboot, finding: Finding) -> None:
    ws.need_reboot(finding.rule)


def _clears_after_restart(ws: Workspace, _step: s.ClearsAfterRestart, finding: Finding) -> None:
    ws.clears_after_restart(finding.rule)


def _instruction(ws: Workspace, step: s.Instruction, finding: Finding) -> None:
    ws.instruct(finding.rule, _(step.text), _(step.why))


def _by_hand(ws: Workspace, step: s.ByHand, finding: Finding) -> None:
    text = finding.fix.summary if finding.fix else finding.title
    if finding.fix and finding.fix.commands:
        text += "\n" + "\n".join(f"  {c}" for c in finding.fix.commands)
    ws.instruct(finding.rule, text, _(step.why))


def _refuse(_ws: Workspace, step: s.Refuse, _finding: Finding) -> None:
    raise EditError(_(step.reason), step.path)


_APPLIERS: dict[type[Any], Callable[[Workspace, Any, Finding], None]] = {
    s.CmdlineFileEdit: _cmdline_file,
    s.GrubVariableEdit: _grub_variable,
    s.TomlSet: _toml_set,
    s.TomlArrayRemove: _toml_array_remove,
    s.ContainerdVersion2: _containerd_version_2,
    s.YamlSet: _yaml_set,
    s.YamlRemove: _yaml_remove,
    s.FlagSet: _flag_set,
    s.FlagRemove: _flag_remove,
    s.WriteFile: _write_file,
    s.SysctlSet: _sysctl_set,
    s.ModuleLoad: _module_load,
    s.FstabComment: _fstab_comment,
    s.Command: _command,
    s.RunNow: _run_now,
    s.Restart: _restart,
    s.Reboot: _reboot,
    s.ClearsAfterRestart: _clears_after_restart,
    s.Instruction: _instruction,
    s.ByHand: _by_hand,
    s.Refuse: _refuse,
}
