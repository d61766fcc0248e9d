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
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nodedoctor.fix.manifest import (
    FieldError,
    JournalError,
    entry_header,
    node_path,
    read_manifest,
    typed,
)
from nodedoctor.i18n import _

CLEAN_JOURNAL_DIR = "/var/lib/nodedoctor/clean"
SCHEMA = "nodedoctor/clean-journal/v1"
ENTRY_STATES = ("applying", "applied", "rolled-back")
ITEM_KINDS = ("move", "link", "iptables", "nft-table")
ITEM_STATES = ("pending", "done", "skipped", "failed", "restored", "not-restored")
#: Where an item is kept inside its entry (:meth:`CleanEntry.slot`).
STORED = re.compile(r"(files|saved)/[0-9]{1,9}(\.(txt|rules|nft))?")


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
    def from_json(cls, data: object) -> Item:
        """An item read back from a manifest; :class:`FieldError` naming the field of the
        wrong shape (a damaged or hand-edited manifest never reaches a restore)."""
        d = typed(data, dict, "item")
        kind = typed(d.get("kind"), str, "kind")
        if kind not in ITEM_KINDS:
            raise FieldError(f"unknown item kind {kind!r}")
        state = typed(d.get("state", "pending"), str, "state")
        if state not in ITEM_STATES:
            raise FieldError(f"unknown item state {state!r}")
        stored = typed(d.get("stored", ""), str, "stored")
        if stored and not STORED.fullmatch(stored):
            raise FieldError(f"stored {stored!r} is not a place inside the entry")
        path = typed(d.get("path"), str, "path")
        if kind == "move":
            path = node_path(path, "path")
        chains = typed(d.get("chains", []), list, "chains")
        return cls(
            kind=kind,
            path=path,
            state=state,
            stored=stored,
            how=typed(d.get("how", ""), str, "how"),
            table=typed(d.get("table", ""), str, "table"),
            after=typed(d.get("after", ""), str, "after"),
            chains=[typed(c, str, "chains[]") for c in chains],
            note=typed(d.get("note", ""), str, "note"),
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
    """The entry in ``directory``, read bounded (fix/manifest.py: size, depth) and every field
    checked; :class:`CleanJournalError` naming the manifest otherwise, never a traceback."""
    try:
        data = read_manifest(directory, SCHEMA)
    except JournalError as exc:
        raise CleanJournalError(f"{exc} (clean journal)") from None
    path = os.path.join(directory, "manifest.json")
    try:
        return _entry(directory, data)
    except (FieldError, OverflowError) as exc:
        raise CleanJournalError(f"{path}: damaged clean journal manifest: {exc}") from None


def _entry(directory: str, data: dict[str, Any]) -> CleanEntry:
    entry_id, state, created, rolled = entry_header(directory, data, ENTRY_STATES)
    return CleanEntry(
        id=entry_id,
        directory=directory,
        created=created,
        state=state,
        items=[Item.from_json(i) for i in typed(data.get("items", []), list, "items")],
        rolled_back_at=rolled,
    )


def entries() -> list[CleanEntry]:
    """Every readable clean journal entry on this node, oldest first."""
    return scan()[0]


def scan() -> tuple[list[CleanEntry], list[tuple[str, str]]]:
    """The readable entries (oldest first) and the damaged ones as (id, why): a damaged entry
    is listed by ``journal``, never rolled back."""
    base = journal_base()
    if not os.path.isdir(base):
        return [], []
    out: list[CleanEntry] = []
    damaged: list[tuple[str, str]] = []
    for name in sorted(os.listdir(base)):
        directory = os.path.join(base, name)
        if name.startswith(".") or not os.path.isdir(directory):
            continue
        try:
            out.append(load(directory))
        except CleanJournalError as exc:
            damaged.append((name, str(exc)))
    return sorted(out, key=lambda e: (e.created, e.id)), damaged


def find(entry_id: str | None) -> CleanEntry | None:
    """The entry ``entry_id`` (``None`` if there is none of that id), or the newest one not
    rolled back when ``entry_id`` is ``None``."""
    all_entries = entries()
    if entry_id is not None:
        return next((e for e in all_entries if e.id == entry_id), None)
    pending = [e for e in all_entries if e.state != "rolled-back"]
    return pending[-1] if pending else None
