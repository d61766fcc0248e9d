"""The journal: the original bytes and metadata of every file an apply touches, written
(and fsynced) before the first write, so ``nodedoctor rollback`` restores them byte for byte.
That includes the files a plan's commands rewrite (``Command.touches``: grubby's boot
entries, a regenerated ``grub.cfg``), recorded before the commands run.

Layout (live under ``/var/lib/nodedoctor/journal/``, offline under the root's own
``var/lib/nodedoctor/journal/``)::

    .lock                the lock one apply or rollback holds
    <id>/manifest.json   schema, id, created, state, root, rules, files[], created_dirs[],
                         temp_files[], rolled_back_at
    <id>/files/<n>       the original bytes of files[n] (absent for created files)
    .<id>.tmp/           an entry being built (staging): nothing on the node touched yet

An entry is built whole in its staging directory (backups and manifest fsynced) and renamed
into place before the first target is written: a kill leaves either no entry and nothing
written, or a whole entry. A staging directory left by a kill is shown by ``nodedoctor
journal`` and removed by the next apply or rollback (under the lock).

The manifest names, before any of them exists, the directories the apply creates
(``created_dirs``, node paths, outermost first) and the temp files it and its rollback write
beside targets (``temp_files``, ``.NAME.nodedoctor-<id>.tmp``), so rollback removes what a
kill left (a directory only when empty).

``state`` is ``prepared`` (the entry is in place; files are being written),
``commands-running`` (the files a command rewrites are recorded and the command runs),
``applied`` (every file written, every command settled), ``rolling-back`` or
``rolled-back``. Any state but ``applied`` and ``rolled-back`` is an *interrupted* apply or
rollback: ``nodedoctor journal`` says so and ``nodedoctor rollback`` finishes undoing it. A
kill leaves each file wholly old or wholly new; rollback handles both.

A manifest is read bounded (size and nesting, ``fix/manifest.py``) and checked field by
field; one that fails is a *damaged* entry, listed as such, never rolled back and never a
crash.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nodedoctor._record import record, replace
from nodedoctor.fix import fsops, manifest
from nodedoctor.fix.manifest import (
    BACKUP,
    SHA,
    FieldError,
    entry_header,
    node_path,
    node_paths,
    optional_int,
    read_manifest,
    typed,
)
from nodedoctor.fix.plan import sha256
from nodedoctor.i18n import _
from nodedoctor.sources.root import Root

JOURNAL_DIR = "/var/lib/nodedoctor/journal"
SCHEMA = "nodedoctor/journal/v1"
#: ``sha256_after`` of a file a command was rewriting when the apply stopped: what the
#: command left is not known (``settle`` never ran).
PENDING = "pending"
#: Raised for a journal that is missing, unreadable, damaged or not ours.
JournalError = manifest.JournalError
#: States of an entry whose apply and rollback both finished.
SETTLED = frozenset({"applied", "rolled-back"})
STATES = frozenset({"prepared", "commands-running", "applied", "rolling-back", "rolled-back"})

_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")
_STAGING = re.compile(r"\.([0-9]{8}T[0-9]{6}Z-[0-9a-f]{6})\.tmp")


@record
class JournalFile:
    path: str  # the node path the plan named
    target: str  # the node path written (links inside the root followed)
    existed: bool
    sha256_before: str | None
    sha256_after: str
    mode: int | None
    uid: int | None
    gid: int | None
    selinux: bytes | None
    backup: str | None  # relative to the journal entry

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "target": self.target,
            "existed": self.existed,
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
            "mode": None if self.mode is None else f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
            "selinux": None if self.selinux is None else base64.b64encode(self.selinux).decode(),
            "backup": self.backup,
        }

    @classmethod
    def from_json(cls, data: object) -> JournalFile:
        """The file record ``data``; :class:`ValueError` naming the field that is wrong."""
        if not isinstance(data, dict):
            raise FieldError("a files[] item is not an object")
        mode = data.get("mode")
        label = data.get("selinux")
        before = data.get("sha256_before")
        after = data.get("sha256_after")
        backup = data.get("backup")
        if before is not None and not (isinstance(before, str) and SHA.fullmatch(before)):
            raise FieldError("sha256_before is not a SHA-256")
        if not (isinstance(after, str) and (SHA.fullmatch(after) or after in (PENDING, ""))):
            raise FieldError("sha256_after is not a SHA-256")
        if backup is not None and not (isinstance(backup, str) and BACKUP.fullmatch(backup)):
            raise FieldError(f"backup {backup!r} is not files/<n>")
        if mode is not None and not (isinstance(mode, str) and re.fullmatch("[0-7]{1,4}", mode)):
            raise FieldError(f"mode {mode!r} is not octal")
        if label is not None and not isinstance(label, str):
            raise FieldError("selinux is not base64 text")
        return cls(
            path=node_path(data.get("path"), "path"),
            target=node_path(data.get("target"), "target"),
            existed=typed(data.get("existed"), bool, "existed"),
            sha256_before=before,
            sha256_after=after,
            mode=None if mode is None else int(mode, 8),
            uid=optional_int(data.get("uid"), "uid"),
            gid=optional_int(data.get("gid"), "gid"),
            selinux=None if label is None else base64.b64decode(label, validate=True),
            backup=backup,
        )


@dataclass
class Entry:
    id: str
    directory: str  # host path of the entry
    created: float
    state: str
    rules: list[str]
    files: list[JournalFile]
    #: Directories the apply creates (node paths, outermost first), named before any is made.
    created_dirs: list[str]
    root_label: str
    rolled_back_at: float | None = None
    #: Temp files the apply and its rollback write beside targets (node paths).
    temp_files: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        """An apply or rollback that stopped before it finished (killed, power cut)."""
        return self.state not in SETTLED

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "id": self.id,
            "created": self.created,
            "created_iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "state": self.state,
            "root": self.root_label,
            "rules": self.rules,
            "files": [f.to_json() for f in self.files],
            "created_dirs": self.created_dirs,
            "temp_files": self.temp_files,
            "rolled_back_at": self.rolled_back_at,
        }

    def backup_bytes(self, f: JournalFile) -> bytes:
        if f.backup is None:
            raise JournalError(f"{self.id}: no backup for {f.path}")
        path = os.path.join(self.directory, f.backup)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise JournalError(f"{path}: the backup of {f.path} is unreadable: {exc}") from None
        if sha256(data) != f.sha256_before:
            raise JournalError(f"{self.id}: the backup of {f.path} is damaged (hash differs)")
        return data

    def record(self, root: Root, paths: list[str]) -> None:
        """Journal the current bytes of ``paths`` (node paths a command is about to rewrite),
        before it runs; :meth:`settle` records what the command left."""
        for path in paths:
            state = fsops.read_state(fsops.host_path(root, path))
            if not state.exists or state.data is None:
                continue  # a file the command creates is not taken back
            backup = f"files/{len(self.files)}"
            fsops.atomic_write(
                os.path.join(self.directory, backup), state.data, tag="backup", mode=0o600
            )
            self.files.append(
                JournalFile(
                    path=path,
                    target=path,
                    existed=True,
                    sha256_before=sha256(state.data),
                    sha256_after=PENDING,
                    mode=state.mode,
                    uid=state.uid,
                    gid=state.gid,
                    selinux=state.selinux,
                    backup=backup,
                )
            )
        fsops.fsync_dir(os.path.join(self.directory, "files"))
        # Until settle(): an apply killed while a command runs is told apart from a file
        # that someone changed after the apply.
        self.state = "commands-running"
        self.save()

    def settle(self, root: Root, paths: set[str]) -> None:
        """After commands ran: what ``paths`` hold now is what this apply left there."""
        for i, f in enumerate(self.files):
            if f.target in paths or f.path in paths:
                state = fsops.read_state(fsops.host_path(root, f.target))
                self.files[i] = replace(f, sha256_after=sha256(state.data) or "")
        self.state = "applied"
        self.save()

    def save(self) -> None:
        data = (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()
        fsops.atomic_write(
            os.path.join(self.directory, "manifest.json"), data, tag="manifest", mode=0o600
        )


def journal_dir(root: Root) -> str:
    """Host path of the journal directory for ``root`` (created on demand)."""
    return fsops.host_path(root, JOURNAL_DIR)


@contextlib.contextmanager
def locked(root: Root) -> Iterator[None]:
    """Hold the journal's lock: one apply or rollback per root at a time."""
    base = journal_dir(root)
    fsops.make_dirs(base, 0o700)
    fd = os.open(os.path.join(base, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise fsops.RefusedError(
                JOURNAL_DIR, _("refused: another nodedoctor apply or rollback is running")
            ) from None
        yield
    finally:
        os.close(fd)


def new_id(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(3)


def begin(
    root: Root,
    rules: list[str],
    files: list[tuple[str, str, fsops.FileState, bytes]],
    created_dirs: list[str] | None = None,
) -> Entry:
    """Record the originals of ``files`` (node path, target node path, state, new bytes)
    durably, before anything is written, with the directories the apply will create
    (``created_dirs``, node paths, outermost first) and the temp names it will use beside
    each target. The entry is built in a staging directory and renamed into place whole."""
    now = time.time()
    base = journal_dir(root)
    fsops.make_dirs(base, 0o700)
    entry_id = new_id(now)
    directory = os.path.join(base, entry_id)
    staging = os.path.join(base, f".{entry_id}.tmp")
    os.mkdir(staging, 0o700)
    os.mkdir(os.path.join(staging, "files"), 0o700)
    recorded: list[JournalFile] = []
    for n, (path, target, state, new) in enumerate(files):
        backup = None
        if state.exists and state.data is not None:
            backup = f"files/{n}"
            fsops.atomic_write(os.path.join(staging, backup), state.data, tag="backup", mode=0o600)
        recorded.append(
            JournalFile(
                path=path,
                target=target,
                existed=state.exists,
                sha256_before=sha256(state.data),
                sha256_after=sha256(new) or "",
                mode=state.mode,
                uid=state.uid,
                gid=state.gid,
                selinux=state.selinux,
                backup=backup,
            )
        )
    fsops.fsync_dir(os.path.join(staging, "files"))
    temps = list(dict.fromkeys(fsops.temp_name(f.target, entry_id) for f in recorded))
    entry = Entry(
        entry_id,
        staging,
        now,
        "prepared",
        rules,
        recorded,
        list(created_dirs or []),
        root.label,
        temp_files=temps,
    )
    entry.save()
    fsops.fsync_dir(staging)
    os.rename(staging, directory)
    fsops.fsync_dir(base)
    entry.directory = directory
    return entry


def load(directory: str) -> Entry:
    """The entry in ``directory``; :class:`JournalError` naming the manifest when it is
    missing, too large, nested too deep, not JSON or has a field of the wrong shape."""
    data = read_manifest(directory, SCHEMA)
    path = os.path.join(directory, "manifest.json")
    try:
        return _entry(directory, data)
    except (KeyError, TypeError, ValueError, binascii.Error, OverflowError) as exc:
        raise JournalError(f"{path}: damaged journal manifest: {exc}") from None


def _entry(directory: str, data: dict[str, Any]) -> Entry:
    entry_id, state, created, rolled = entry_header(directory, data, STATES)
    rules = data.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise FieldError("rules is not a list of rule ids")
    files = data.get("files", [])
    if not isinstance(files, list):
        raise FieldError("files is not a list")
    return Entry(
        id=entry_id,
        directory=directory,
        created=created,
        state=state,
        rules=list(rules),
        files=[JournalFile.from_json(f) for f in files],
        created_dirs=node_paths(data.get("created_dirs", []), "created_dirs"),
        root_label=str(data.get("root", "")),
        rolled_back_at=rolled,
        temp_files=node_paths(data.get("temp_files", []), "temp_files"),
    )


@record
class Damaged:
    """A journal entry that cannot be read: it is listed, never rolled back."""

    id: str
    directory: str
    error: str


@dataclass
class Scan:
    """What the journal directory holds: readable entries (oldest first), damaged ones, and
    staging directories of applies killed before their entry was complete."""

    entries: list[Entry] = field(default_factory=list)
    damaged: list[Damaged] = field(default_factory=list)
    staging: list[str] = field(default_factory=list)  # entry ids


def scan(root: Root) -> Scan:
    out = Scan()
    try:
        base = journal_dir(root)
    except fsops.RefusedError:
        return out
    if not os.path.isdir(base):
        return out
    for name in sorted(os.listdir(base)):
        directory = os.path.join(base, name)
        if os.path.islink(directory) or not os.path.isdir(directory):
            continue
        staged = _STAGING.fullmatch(name)
        if staged:
            out.staging.append(staged.group(1))
            continue
        if name.startswith("."):
            continue
        try:
            out.entries.append(load(directory))
        except JournalError as exc:
            out.damaged.append(Damaged(name, directory, str(exc)))
    out.entries.sort(key=lambda e: (e.created, e.id))
    return out


def entries(root: Root) -> list[Entry]:
    """Every readable journal entry of ``root``, oldest first (:func:`scan` also has the
    damaged ones and the staging directories)."""
    return scan(root).entries


def clear_staging(root: Root) -> list[str]:
    """Remove the staging directories of applies killed before their entry was renamed into
    place (nothing on the node was touched then); hold :func:`locked`. Their ids."""
    base = journal_dir(root)
    removed: list[str] = []
    if not os.path.isdir(base):
        return removed
    for name in sorted(os.listdir(base)):
        staged = _STAGING.fullmatch(name)
        path = os.path.join(base, name)
        if staged and not os.path.islink(path) and os.path.isdir(path):
            shutil.rmtree(path)
            removed.append(staged.group(1))
    if removed:
        fsops.fsync_dir(base)
    return removed


def find(root: Root, entry_id: str | None) -> Entry:
    """The entry ``entry_id``, or the newest one not yet rolled back (refused when a damaged
    entry is newer: rolling back an older apply under an unknown newer one could undo what
    it did with stale bytes)."""
    found = scan(root)
    if entry_id is not None:
        for e in found.entries:
            if e.id == entry_id:
                return e
        for d in found.damaged:
            if d.id == entry_id:
                raise JournalError(
                    _("journal entry {id} is damaged: {error}").format(id=entry_id, error=d.error)
                )
        raise JournalError(
            _("no journal entry {id!r}; see 'nodedoctor journal'").format(id=entry_id)
        )
    pending = [e for e in found.entries if e.state != "rolled-back"]
    newest = pending[-1] if pending else None
    newer_damaged = [
        d for d in found.damaged if _ID.fullmatch(d.id) and (newest is None or d.id > newest.id)
    ]
    if newer_damaged:
        d = newer_damaged[-1]
        raise JournalError(
            _(
                "the newest journal entry {id} is damaged ({error}); roll back an older entry "
                "by its id if that is what you want"
            ).format(id=d.id, error=d.error)
        )
    if newest is None:
        raise JournalError(_("nothing to roll back: no applied fix in the journal"))
    return newest
