"""The fix engine: shows a plan as unified diffs, applies it safely, rolls it back.

Apply, in order:

0. take the journal's lock (one apply or rollback per root at a time);
1. preflight every step: the path resolves inside the root, the file is a regular file
   whose bytes still hash to what the plan was made from, not hard-linked, writable (not
   mode ``a-w``, not immutable, not on a read-only filesystem) and the new bytes parse. One
   refusal refuses the whole apply: nothing is written;
2. record the originals in the journal (fsynced) before the first write, with the
   directories the apply will create and the temp names it will use beside targets; the
   entry is built in a staging directory and renamed into place whole (``fix/journal.py``);
3. write each file atomically (temp file in the same directory, fsync, rename, fsync
   the directory), keeping mode, owner and SELinux label;
4. live only: run the plan's commands (``systemctl daemon-reload``, ``update-grub`` ...)
   and, with ``--restart`` only, restart the services the plan names.

Rollback restores or removes each file, removes the temp files and (empty) directories the
apply created, and reloads systemd when a unit or drop-in changed (live; on an offline root
the result says the node must). A kill at any moment leaves each file wholly old or new and
an entry ``nodedoctor journal`` lists as interrupted; ``rollback`` finishes it.

Test hook: ``NODEDOCTOR_TEST_PAUSE_BETWEEN_STEPS=SECONDS`` makes apply and rollback print
``nodedoctor-test: <stage>`` to stderr and sleep that long after the journal is written
and after each file (crash-safety tests kill the process there);
``NODEDOCTOR_TEST_PAUSE_AT=<stage>`` limits the pause to that one stage.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from nodedoctor._record import record
from nodedoctor.fix import fsops, journal
from nodedoctor.fix.plan import Command, Plan, Step, StepKind, sha256
from nodedoctor.fix.textedit import EditError, check_systemd_unit
from nodedoctor.fix.tomledit import parse as parse_toml
from nodedoctor.i18n import _
from nodedoctor.model import Finding, Report
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.cmdline import parse_default_grub
from nodedoctor.sources.commands import run_program
from nodedoctor.sources.root import Root

PAUSE_ENV = "NODEDOCTOR_TEST_PAUSE_BETWEEN_STEPS"
PAUSE_AT_ENV = "NODEDOCTOR_TEST_PAUSE_AT"
COMMAND_TIMEOUT = 300.0


def pause_for_tests(stage: str) -> None:
    value = os.environ.get(PAUSE_ENV)
    if not value:
        return
    sys.stderr.write(f"nodedoctor-test: {stage}\n")
    sys.stderr.flush()
    only = os.environ.get(PAUSE_AT_ENV)
    if not only or only == stage:
        time.sleep(float(value))


# -- showing ----------------------------------------------------------------------
def unified_diff(step: Step) -> str:
    """The step as a unified diff (``/dev/null`` for a created file)."""
    old = (step.original or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    new = step.new.decode("utf-8", errors="replace").splitlines(keepends=True)
    before = "/dev/null" if step.kind is StepKind.CREATE else f"a{step.path}"
    lines = []
    for line in difflib.unified_diff(old, new, before, f"b{step.path}"):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


# -- validating ------------------------------------------------------------------
def validate(fmt: str, data: bytes) -> None:
    """Raise :class:`EditError` unless ``data`` parses as ``fmt``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(_("the new content is not UTF-8")) from None
    if fmt == "toml":
        parse_toml(text)
    elif fmt == "yaml":
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise EditError(
                _("the new content is not valid YAML: {error}").format(error=exc)
            ) from None
    elif fmt == "cmdline":
        if len([ln for ln in text.splitlines() if ln.strip()]) != 1:
            raise EditError(_("a command-line file must be exactly one line"))
    elif fmt == "systemd":
        check_systemd_unit(text)
    elif fmt == "grub":
        try:
            parse_default_grub(text)
        except ParseError as exc:
            raise EditError(
                _("the new content does not parse: line {line}: {error}").format(
                    line=exc.line, error=exc
                )
            ) from None


# -- applying ---------------------------------------------------------------------
@record
class CommandRun:
    argv: tuple[str, ...]
    returncode: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class ApplyResult:
    journal_id: str | None
    written: list[str] = field(default_factory=list)
    commands: list[CommandRun] = field(default_factory=list)
    restarts: list[CommandRun] = field(default_factory=list)
    #: Commands and restarts not run, and why (offline root, no --restart).
    not_run: list[tuple[str, str]] = field(default_factory=list)


Runner = Callable[[tuple[str, ...]], CommandRun]


def run_command(argv: tuple[str, ...], timeout: float = COMMAND_TIMEOUT) -> CommandRun:
    """Run a fix command without a shell; a missing program is a result, not a crash."""
    ran = run_program(argv, timeout)
    if ran.timed_out:
        return CommandRun(
            argv, None, _("timed out after {seconds}s").format(seconds=f"{timeout:.0f}")
        )
    if ran.missing:
        return CommandRun(argv, None, ran.stderr)
    return CommandRun(argv, ran.returncode, (ran.stdout + ran.stderr)[-4000:])


@record
class Prepared:
    step: Step
    host: str
    state: fsops.FileState


def _target_node_path(root: Root, host: str) -> str:
    if root.base == "/":
        return host
    return "/" + os.path.relpath(host, root.base)


def preflight(root: Root, step: Step) -> Prepared:
    """Check that ``step`` may be applied now; raise :class:`fsops.RefusedError` if not."""
    host = fsops.host_path(root, step.path)
    try:
        state = fsops.read_state(host)
    except fsops.RefusedError as exc:
        raise fsops.RefusedError(step.path, exc.reason) from None
    except OSError as exc:
        raise fsops.RefusedError(
            step.path, _("refused: cannot read it: {error}").format(error=exc.strerror)
        ) from None
    if step.kind is StepKind.CREATE and state.exists:
        raise fsops.RefusedError(step.path, _("refused: it was created after the plan was made"))
    if step.kind is StepKind.EDIT and not state.exists:
        raise fsops.RefusedError(step.path, _("refused: it was removed after the plan was made"))
    if sha256(state.data) != step.original_sha256:
        raise fsops.RefusedError(step.path, _("refused: it changed after the plan was made"))
    try:
        fsops.check_writable(host, state)
    except fsops.RefusedError as exc:
        raise fsops.RefusedError(step.path, exc.reason) from None
    try:
        validate(step.format, step.new)
    except EditError as exc:
        raise fsops.RefusedError(step.path, _("refused: {error}").format(error=exc)) from None
    return Prepared(step, host, state)


def apply(
    root: Root,
    plan: Plan,
    *,
    restart: bool = False,
    runner: Runner = run_command,
) -> ApplyResult:
    """Apply ``plan`` to ``root``. Raises :class:`fsops.RefusedError` (nothing written)
    when a step fails its preflight."""
    touched = _touched_files(root, list(plan.commands)) if root.live else []
    if not plan.steps and not touched:
        result = ApplyResult(journal_id=None)
        _run_after(root, plan, result, None, restart=restart, runner=runner)
        return result
    for step in plan.steps:  # refuse before anything (even the journal) is written
        preflight(root, step)
    for path in touched:  # what a command will rewrite must be journaled: readable now
        fsops.read_state(fsops.host_path(root, path))
    _check_journal_writable(root)
    with journal.locked(root):
        journal.clear_staging(root)  # applies killed before their entry was complete
        result, entry = _apply_steps(root, plan)  # checks every step again, under the lock
        _run_after(root, plan, result, entry, restart=restart, runner=runner)
    return result


def _apply_steps(root: Root, plan: Plan) -> tuple[ApplyResult, journal.Entry | None]:
    prepared = [preflight(root, step) for step in plan.steps]
    result = ApplyResult(journal_id=None)
    entry: journal.Entry | None = None
    if prepared:
        entry = journal.begin(
            root,
            list(plan.addressed),
            [(p.step.path, _target_node_path(root, p.host), p.state, p.step.new) for p in prepared],
            [_target_node_path(root, d) for d in _dirs_to_create(prepared)],
        )
        result.journal_id = entry.id
        pause_for_tests("journal written")
        for p in prepared:
            try:
                _write_step(root, entry, p)
            except (OSError, fsops.RefusedError) as exc:
                raise ApplyError(entry.id, list(result.written), p.step.path, exc) from exc
            result.written.append(p.step.path)
            pause_for_tests(f"wrote {p.step.path}")
        entry.state = "applied"
        entry.save()
    return result, entry


class ApplyError(Exception):
    """An apply that stopped part-way (a write failed or a file changed under it); the
    journal entry restores what was written."""

    def __init__(self, journal_id: str, written: list[str], path: str, cause: Exception) -> None:
        super().__init__(
            (
                _(
                    "{path}: {error}; written before it: {written}; undo with "
                    "'nodedoctor rollback {id}'"
                )
                if written
                else _(
                    "{path}: {error}; written before it: nothing; undo with "
                    "'nodedoctor rollback {id}'"
                )
            ).format(path=path, error=cause, written=", ".join(written), id=journal_id)
        )
        self.journal_id = journal_id
        self.written = written


def _dirs_to_create(prepared: list[Prepared]) -> list[str]:
    """The directories writing ``prepared`` will create (host paths, outermost first),
    named in the journal before the first is made so that rollback removes them whatever
    moment the apply is killed at."""
    out: list[str] = []
    for p in prepared:
        if p.state.exists:
            continue
        missing: list[str] = []
        probe = os.path.dirname(p.host)
        while not os.path.isdir(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        out.extend(d for d in reversed(missing) if d not in out)
    return sorted(out, key=lambda d: d.count("/"))


def _check_journal_writable(root: Root) -> None:
    base = journal.journal_dir(root)
    probe = base
    while not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK) or os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise fsops.RefusedError(journal.JOURNAL_DIR, _("refused: the journal cannot be written"))


def _write_step(root: Root, entry: journal.Entry, p: Prepared) -> None:
    # The file may have changed while earlier steps ran: check again, then write.
    now = fsops.read_state(p.host)
    if sha256(now.data) != p.step.original_sha256:
        raise fsops.RefusedError(p.step.path, _("refused: it changed during the apply"))
    if not p.state.exists:
        created = [_target_node_path(root, d) for d in fsops.make_dirs(os.path.dirname(p.host))]
        unnamed = [d for d in created if d not in entry.created_dirs]
        if unnamed:  # made by someone else between the journal and now, then removed
            entry.created_dirs.extend(unnamed)
            entry.save()
    fsops.atomic_write(
        p.host,
        p.step.new,
        tag=entry.id,
        mode=p.state.mode if p.state.mode is not None else p.step.create_mode,
        uid=p.state.uid,
        gid=p.state.gid,
        selinux=p.state.selinux,
    )


def _run_after(
    root: Root,
    plan: Plan,
    result: ApplyResult,
    entry: journal.Entry | None,
    *,
    restart: bool,
    runner: Runner,
) -> None:
    commands: list[Command] = list(plan.commands)
    if not root.live:
        for c in commands:
            result.not_run.append((c.display, _("offline root: run it on the node")))
        for r in plan.restarts:
            result.not_run.append((" ".join(r.argv), _("offline root: nothing is restarted")))
        return
    touched = _touched_files(root, commands)
    if touched:
        # What grubby or grub-mkconfig rewrite is journaled like an edit: rollback restores
        # the boot entries and generated configs byte for byte, with the edited files.
        try:
            if entry is None:
                entry = journal.begin(root, list(plan.addressed), [])
                result.journal_id = entry.id
            known = {f.target for f in entry.files} | {f.path for f in entry.files}
            entry.record(root, [p for p in touched if p not in known])
        except (OSError, fsops.RefusedError) as exc:
            # The edits are written already: say so, and how to undo them.
            raise ApplyError(
                result.journal_id or "?", list(result.written), touched[0], exc
            ) from exc
    try:
        for c in commands:
            result.commands.append(runner(c.argv))
    finally:
        if touched and entry is not None:
            entry.settle(root, set(touched))
    for r in plan.restarts:
        if restart:
            result.restarts.append(runner(r.argv))
        else:
            result.not_run.append((" ".join(r.argv), _("not restarted without --restart")))


def _touched_files(root: Root, commands: list[Command]) -> list[str]:
    """The existing files ``commands`` rewrite, as node paths, in order."""
    out: list[str] = []
    for c in commands:
        for pattern in c.touches:
            directory, name = pattern.rsplit("/", 1)
            paths = root.glob(directory, name) if "*" in name else [pattern]
            # GRUB's blscfg skips hidden entries; a directory is no file to journal.
            out.extend(
                p
                for p in paths
                if p not in out
                and not p.rsplit("/", 1)[-1].startswith(".")
                and root.exists(p)
                and not root.is_dir(p)
            )
    return out


# -- re-checking -----------------------------------------------------------------
@record
class Outcome:
    rule: str
    #: fixed | needs-reboot | needs-restart | manual (instructions only) | still-wrong
    status: str
    detail: str = ""


def outcomes(
    plan: Plan, result: ApplyResult, before: list[Finding], after: Report
) -> list[Outcome]:
    """What the re-run of the rules says about each finding the plan addressed."""
    still = {f.rule for f in after.findings}
    restarted = {r.argv for r in result.restarts if r.ok}
    acted = {r for s in plan.steps for r in s.rules} | {c.rule for c in plan.commands}
    out: list[Outcome] = []
    for rule in dict.fromkeys(f.rule for f in before):
        if rule not in plan.addressed:
            continue
        pending = [
            " ".join(r.argv) for r in plan.restarts if rule in r.rules and r.argv not in restarted
        ]
        if rule not in still:
            commands = ", ".join(pending)
            if rule in plan.reboot:
                detail = (
                    _("reboot needed to take effect; restart needed: {commands}")
                    if pending
                    else _("reboot needed to take effect")
                )
            else:
                detail = _("restart needed: {commands}") if pending else ""
            out.append(Outcome(rule, "fixed", detail.format(commands=commands)))
        elif rule in plan.reboot:
            out.append(Outcome(rule, "needs-reboot", _("the files are fixed; reboot the node")))
        elif rule in plan.after_restart:
            detail = (
                _("the files are fixed; clears after {commands}").format(
                    commands=", ".join(pending)
                )
                if pending
                else _("the files are fixed; clears after the restart")
            )
            out.append(Outcome(rule, "needs-restart", detail))
        elif rule not in acted:
            out.append(Outcome(rule, "manual", _("see the plan's instructions")))
        else:
            out.append(Outcome(rule, "still-wrong", _("the rule still fires after the fix")))
    return out


def appeared(before: list[Finding], after: Report) -> list[Finding]:
    """Findings the re-check shows that were not there before the apply (often expected:
    ``boot-cmdline-ignored`` says a reboot is pending after a command-line edit)."""
    seen = {f.rule for f in before}
    out: list[Finding] = []
    for f in after.findings:
        if f.rule not in seen:
            seen.add(f.rule)
            out.append(f)
    return out
