"""Rollback: restore every file of a journal entry byte for byte, remove the files and
(empty) directories the apply created and the temp files a kill left beside targets, and
reload systemd when a unit or drop-in changed (live; offline the result says the node must).

An interrupted apply (``prepared``, ``commands-running``) or rollback (``rolling-back``) is
finished the same way: each file is wholly old or new after any kill, and running rollback
again is safe. The entry is marked ``rolling-back`` before the first file is touched.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from nodedoctor.fix import fsops, journal
from nodedoctor.fix.engine import CommandRun, Runner, pause_for_tests, run_command
from nodedoctor.fix.plan import sha256
from nodedoctor.i18n import _
from nodedoctor.sources.root import Root

#: Where systemd reads units and drop-ins from (``systemd.unit(5)``, system manager): a
#: rollback that restores or removes a file there reloads systemd, as the apply did.
SYSTEMD_UNIT_DIRS = (
    "/etc/systemd/system/",
    "/run/systemd/system/",
    "/usr/local/lib/systemd/system/",
    "/usr/lib/systemd/system/",
    "/lib/systemd/system/",
)
DAEMON_RELOAD = ("systemctl", "daemon-reload")


def is_systemd_unit_path(path: str) -> bool:
    """A unit file or a drop-in systemd loads: a file under a system unit directory."""
    return path.startswith(SYSTEMD_UNIT_DIRS)


@dataclass
class RollbackResult:
    entry_id: str
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Files changed since the apply (path, why); refused unless forced.
    changed_since: list[tuple[str, str]] = field(default_factory=list)
    refused: bool = False
    #: Whether the entry was an interrupted apply or rollback this one finished.
    interrupted: str | None = None
    #: Temp files a killed apply or rollback left beside targets, removed.
    cleaned: list[str] = field(default_factory=list)
    #: Directories the apply created, removed (when empty), innermost first.
    removed_dirs: list[str] = field(default_factory=list)
    #: ``systemctl daemon-reload`` after restoring a unit or drop-in (live).
    commands: list[CommandRun] = field(default_factory=list)
    #: Commands the node still needs (offline root), and why.
    not_run: list[tuple[str, str]] = field(default_factory=list)


def rollback(
    root: Root, entry: journal.Entry, *, force: bool = False, runner: Runner = run_command
) -> RollbackResult:
    """Restore every file of ``entry`` byte for byte, remove files it created, the temp
    files and (empty) directories a killed apply left, and reload systemd when a unit or
    drop-in changed (live; offline the result says the node must reload). An interrupted
    apply or rollback is finished the same way; running it again after a kill is safe."""
    with journal.locked(root):
        journal.clear_staging(root)
        # Read again under the lock: another rollback may have run since it was found.
        entry = journal.load(entry.directory)
        if entry.state == "rolled-back":
            raise journal.JournalError(_("{id} is already rolled back").format(id=entry.id))
        return _rollback(root, entry, force, runner)


def _rollback(root: Root, entry: journal.Entry, force: bool, runner: Runner) -> RollbackResult:
    result = RollbackResult(entry.id, interrupted=entry.state if entry.interrupted else None)
    actions: list[tuple[journal.JournalFile, str, fsops.FileState]] = []
    for f in entry.files:
        if f.sha256_after == f.sha256_before:
            # A file a command could have rewritten but did not: not this apply's to undo
            # (a kernel update may have changed it since, and that stays).
            result.unchanged.append(f.path)
            continue
        host = fsops.host_path(root, f.target)
        state = fsops.read_state(host)
        current = sha256(state.data)
        actions.append((f, host, state))
        if current == f.sha256_before:
            continue
        if f.sha256_after == journal.PENDING:
            why = _(
                "the apply stopped while a command was rewriting it; what the command left "
                "cannot be told from a later change"
            )
            result.changed_since.append((f.path, why))
        elif current != f.sha256_after:
            why = _("removed since the apply") if not state.exists else _("changed since the apply")
            result.changed_since.append((f.path, why))
    if result.changed_since and not force:
        result.refused = True
        return result
    resumed = entry.state == "rolling-back"
    if entry.state != "rolling-back":
        # From here each file is old or new: a kill leaves an entry rollback finishes.
        entry.state = "rolling-back"
        entry.save()
    for f, host, state in actions:
        if f.existed:
            data = entry.backup_bytes(f)
            same_meta = (state.mode, state.uid, state.gid) == (f.mode, f.uid, f.gid)
            if state.exists and state.data == data and same_meta:
                result.unchanged.append(f.path)
            else:
                fsops.make_dirs(os.path.dirname(host))
                fsops.atomic_write(
                    host,
                    data,
                    tag=entry.id,
                    mode=f.mode if f.mode is not None else 0o644,
                    uid=f.uid,
                    gid=f.gid,
                    selinux=f.selinux,
                )
                result.restored.append(f.path)
        elif state.exists:
            fsops.remove_file(host)
            result.removed.append(f.path)
        else:
            result.unchanged.append(f.path)
        pause_for_tests(f"restored {f.path}")
    result.cleaned, result.removed_dirs = _remove_leftovers(root, entry)
    changed = [f.path for f, _, _ in actions] if resumed else result.restored + result.removed
    if any(is_systemd_unit_path(p) for p in changed):
        display = " ".join(DAEMON_RELOAD)
        if root.live:
            result.commands.append(runner(DAEMON_RELOAD))
        else:
            result.not_run.append(
                (
                    display,
                    _(
                        "offline root: run it on the node; systemd keeps the rolled-back unit "
                        "until then"
                    ),
                )
            )
    entry.state = "rolled-back"
    entry.rolled_back_at = time.time()
    entry.save()
    return result


def _remove_leftovers(root: Root, entry: journal.Entry) -> tuple[list[str], list[str]]:
    """Remove the temp files beside targets the manifest names (and, for entries written
    before it named them, the one beside each file), then the directories the apply
    created, innermost first and only when empty. The node paths of both removed."""
    removed: list[str] = []
    dirs: list[str] = []
    temps = list(entry.temp_files)
    temps += [fsops.temp_name(f.target, entry.id) for f in entry.files]
    for node in dict.fromkeys(temps):
        try:
            host = fsops.host_path(root, node)
        except fsops.RefusedError:
            continue  # its directory became a link out of the root: not ours to touch
        if os.path.lexists(host) and not os.path.isdir(host):
            fsops.remove_file(host)
            removed.append(node)
    for d in reversed(entry.created_dirs):
        try:
            host = fsops.host_path(root, d)
        except fsops.RefusedError:
            continue
        if os.path.islink(host) or not os.path.isdir(host):
            continue
        try:
            os.rmdir(host)
        except OSError:
            continue  # not empty: something else lives there now
        fsops.fsync_dir(os.path.dirname(host))
        dirs.append(d)
    return removed, dirs
