"""The clean journal: what ``clean --apply`` removed, kept so that ``nodedoctor rollback``
brings it back.

Layout (on the live node, ``/var/lib/nodedoctor/clean/``)::

    <id>/manifest.json   schema, id, time, state, items[]
    <id>/files/<n>       a moved file or directory (renamed there, or copied and removed)
    <id>/saved/<n>.*     an interface's ``ip -d addr show``, a table's restore input

Every item is written to the manifest (``pending``) before the node is touched, and marked
``done`` (or ``skipped``, ``failed``) after, each write atomic and synced: an apply that stops
half way leaves an entry that ``journal`` lists and ``rollback`` finishes undoing (a
``pending`` move is looked for at both ends).

``state`` is ``applying`` (written before the first item), ``applied`` or ``rolled-back``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nodedoctor.i18n import _

CLEAN_JOURNAL_DIR = "/var/lib/nodedoctor/clean"
SCHEMA = "nodedoctor/clean-journal/v1"


class CleanJournalError(Exception):
    """A journal entry that is missing, unreadable or not ours."""


@dataclass
class Item:
    """One thing the clean removed and how to bring it back."""

    #: ``move`` | ``link`` | ``iptables`` | ``nft-table``
    kind: str
    #: The node path moved, the interface, or a label of the rules.
    path: str
    #: ``pending`` | ``done`` | ``skipped`` | ``failed`` | ``restored`` | ``not-restored``
    state: str = "pending"
    #: Where it is kept, relative to the entry (``files/3``, ``saved/4.rules``).
    stored: str = ""
    #: move: ``rename`` or ``copy``; iptables: the restore command; nft-table: ``nft``.
    how: str = ""
    #: iptables: the table; nft-table: ``<family> <name>``.
    table: str = ""
    #: iptables: sha256 of the table's dump right after the removal.
    after: str = ""
    #: iptables: the chains removed.
    chains: list[str] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "state": self.state,
            "stored": self.stored,
            "how": self.how,
            "table": self.table,
            "after": self.after,
            "chains": self.chains,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        return cls(
            kind=str(data["kind"]),
            path=str(data["path"]),
            state=str(data.get("state", "pending")),
            stored=str(data.get("stored", "")),
            how=str(data.get("how", "")),
            table=str(data.get("table", "")),
            after=str(data.get("after", "")),
            chains=[str(c) for c in data.get("chains", [])],
            note=str(data.get("note", "")),
        )


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, synced, renamed)."""
    tmp = f"{path}.tmp-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(os.path.dirname(path))


@dataclass
class CleanEntry:
    id: str
    directory: str
    created: float
    state: str
    items: list[Item]
    rolled_back_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "id": self.id,
            "created": self.created,
            "created_iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "state": self.state,
            "items": [i.to_json() for i in self.items],
            "rolled_back_at": self.rolled_back_at,
        }

    def save(self) -> None:
        data = (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()
        write_atomic(os.path.join(self.directory, "manifest.json"), data)

    def add(self, item: Item) -> int:
        """Record ``item`` (pending) durably before it is acted on; its index."""
        self.items.append(item)
        self.save()
        return len(self.items) - 1

    def slot(self, sub: str, suffix: str = "") -> tuple[str, str]:
        """A fresh place for the next item: (path relative to the entry, host path)."""
        rel = f"{sub}/{len(self.items)}{suffix}"
        return rel, os.path.join(self.directory, rel)

    def host(self, rel: str) -> str:
        return os.path.join(self.directory, rel)


def journal_base() -> str:
    return CLEAN_JOURNAL_DIR


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One clean apply or rollback at a time on this node."""
    base = journal_base()
    os.makedirs(base, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(base, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CleanJournalError(_("another nodedoctor clean or rollback is running")) from None
        yield
    finally:
        os.close(fd)


def begin() -> CleanEntry:
    base = journal_base()
    os.makedirs(base, mode=0o700, exist_ok=True)
    now = time.time()
    entry_id = "clean-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-"
    entry_id += secrets.token_hex(3)
    directory = os.path.join(base, entry_id)
    os.mkdir(directory, 0o700)
    for sub in ("files", "saved"):
        os.mkdir(os.path.join(directory, sub), 0o700)
    entry = CleanEntry(entry_id, directory, now, "applying", [])
    entry.save()
    _fsync_dir(base)
    return entry


def load(directory: str) -> CleanEntry:
    try:
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise CleanJournalError(f"{directory}: unreadable clean journal manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise CleanJournalError(f"{directory}: not a nodedoctor clean journal")
    return CleanEntry(
        id=str(data["id"]),
        directory=directory,
        created=float(data["created"]),
        state=str(data["state"]),
        items=[Item.from_json(i) for i in data.get("items", []) if isinstance(i, dict)],
        rolled_back_at=data.get("rolled_back_at"),
    )


def entries() -> list[CleanEntry]:
    """Every clean journal entry on this node, oldest first."""
    base = journal_base()
    if not os.path.isdir(base):
        return []
    out: list[CleanEntry] = []
    for name in sorted(os.listdir(base)):
        directory = os.path.join(base, name)
        if not os.path.isfile(os.path.join(directory, "manifest.json")):
            continue
        try:
            out.append(load(directory))
        except CleanJournalError:
            continue
    return sorted(out, key=lambda e: (e.created, e.id))


def find(entry_id: str | None) -> CleanEntry | None:
    """The entry ``entry_id`` (``None`` if there is none of that id), or the newest one not
    rolled back when ``entry_id`` is ``None``."""
    all_entries = entries()
    if entry_id is not None:
        return next((e for e in all_entries if e.id == entry_id), None)
    pending = [e for e in all_entries if e.state != "rolled-back"]
    return pending[-1] if pending else None
