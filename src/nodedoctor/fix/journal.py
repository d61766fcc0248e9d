"""The journal: the original bytes and metadata of every file an apply touches, written
(and fsynced) before the first write, so ``nodedoctor rollback`` restores them byte for byte.
That includes the files a plan's commands rewrite (``Command.touches``: grubby's boot
entries, a regenerated ``grub.cfg``), recorded before the commands run.

Layout (live under ``/var/lib/nodedoctor/journal/``, offline under the root's own
``var/lib/nodedoctor/journal/``)::

    <id>/manifest.json   schema, id, time, state, rules, files[], created_dirs[]
    <id>/files/<n>       the original bytes of files[n] (absent for created files)

``state`` is ``prepared`` (written before the first file), ``commands-running`` (the files
a command rewrites are recorded and the command runs), ``applied`` (every file written,
every command settled) or ``rolled-back``. A crash between ``prepared`` and ``applied``
leaves each file wholly old or wholly new; rollback handles both.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nodedoctor._record import record, replace
from nodedoctor.fix import fsops
from nodedoctor.fix.plan import sha256
from nodedoctor.sources.root import Root

JOURNAL_DIR = "/var/lib/nodedoctor/journal"
SCHEMA = "nodedoctor/journal/v1"
#: ``sha256_after`` of a file a command was rewriting when the apply stopped: what the
#: command left is not known (``settle`` never ran).
PENDING = "pending"


class JournalError(Exception):
    """A journal that is missing, unreadable or not ours."""


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
    def from_json(cls, data: dict[str, Any]) -> JournalFile:
        mode = data.get("mode")
        label = data.get("selinux")
        return cls(
            path=str(data["path"]),
            target=str(data["target"]),
            existed=bool(data["existed"]),
            sha256_before=data.get("sha256_before"),
            sha256_after=str(data["sha256_after"]),
            mode=None if mode is None else int(str(mode), 8),
            uid=data.get("uid"),
            gid=data.get("gid"),
            selinux=None if label is None else base64.b64decode(label),
            backup=data.get("backup"),
        )


@dataclass
class Entry:
    id: str
    directory: str  # host path of the entry
    created: float
    state: str
    rules: list[str]
    files: list[JournalFile]
    created_dirs: list[str]  # node paths, outermost first
    root_label: str
    rolled_back_at: float | None = None

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
            "rolled_back_at": self.rolled_back_at,
        }

    def backup_bytes(self, f: JournalFile) -> bytes:
        if f.backup is None:
            raise JournalError(f"{self.id}: no backup for {f.path}")
        with open(os.path.join(self.directory, f.backup), "rb") as fh:
            data = fh.read()
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
                JOURNAL_DIR, "refused: another nodedoctor apply or rollback is running"
            ) from None
        yield
    finally:
        os.close(fd)


def new_id(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(3)


def begin(
    root: Root, rules: list[str], files: list[tuple[str, str, fsops.FileState, bytes]]
) -> Entry:
    """Record the originals of ``files`` (node path, target node path, state, new bytes)
    durably, before anything is written."""
    now = time.time()
    base = journal_dir(root)
    fsops.make_dirs(base, 0o700)
    entry_id = new_id(now)
    directory = os.path.join(base, entry_id)
    os.mkdir(directory, 0o700)
    os.mkdir(os.path.join(directory, "files"), 0o700)
    recorded: list[JournalFile] = []
    for n, (path, target, state, new) in enumerate(files):
        backup = None
        if state.exists and state.data is not None:
            backup = f"files/{n}"
            fsops.atomic_write(
                os.path.join(directory, backup), state.data, tag="backup", mode=0o600
            )
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
    fsops.fsync_dir(os.path.join(directory, "files"))
    entry = Entry(entry_id, directory, now, "prepared", rules, recorded, [], root.label)
    entry.save()
    fsops.fsync_dir(base)
    return entry


def load(directory: str) -> Entry:
    try:
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise JournalError(f"{directory}: unreadable journal manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise JournalError(f"{directory}: not a nodedoctor journal")
    return Entry(
        id=str(data["id"]),
        directory=directory,
        created=float(data["created"]),
        state=str(data["state"]),
        rules=[str(r) for r in data.get("rules", [])],
        files=[JournalFile.from_json(f) for f in data.get("files", [])],
        created_dirs=[str(d) for d in data.get("created_dirs", [])],
        root_label=str(data.get("root", "")),
        rolled_back_at=data.get("rolled_back_at"),
    )


def entries(root: Root) -> list[Entry]:
    """Every journal entry of ``root``, oldest first (entries that cannot be read are
    skipped; a crash before the manifest was written leaves no entry)."""
    try:
        base = journal_dir(root)
    except fsops.RefusedError:
        return []
    if not os.path.isdir(base):
        return []
    out: list[Entry] = []
    for name in sorted(os.listdir(base)):
        directory = os.path.join(base, name)
        if not os.path.isfile(os.path.join(directory, "manifest.json")):
            continue
        try:
            out.append(load(directory))
        except JournalError:
            continue
    return sorted(out, key=lambda e: (e.created, e.id))


def find(root: Root, entry_id: str | None) -> Entry:
    """The entry ``entry_id``, or the newest one not yet rolled back."""
    all_entries = entries(root)
    if entry_id is not None:
        for e in all_entries:
            if e.id == entry_id:
                return e
        raise JournalError(f"no journal entry {entry_id!r}; see 'nodedoctor journal'")
    pending = [e for e in all_entries if e.state != "rolled-back"]
    if not pending:
        raise JournalError("nothing to roll back: no applied fix in the journal")
    return pending[-1]
