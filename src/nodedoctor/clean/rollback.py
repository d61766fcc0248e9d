"""``nodedoctor rollback`` of a clean: bring back what a ``clean --apply`` kept in its journal,
last removed first. Files and directories move back to where they were (never over something
that is there again); a table of rules is restored whole when nothing changed it since the
clean, else only with ``--force``, by adding the saved chains back; interfaces are not
re-created (their CNI makes them when it starts; the journal keeps their addresses).

A rollback that cannot bring everything back leaves the entry as it is: running it again
finishes the rest.
"""

from __future__ import annotations

import time

from nodedoctor._record import record
from nodedoctor.clean import ops
from nodedoctor.clean.journal import CleanEntry, CleanJournalError, load, locked
from nodedoctor.clean.render import label
from nodedoctor.i18n import _


@record
class Restored:
    kind: str
    path: str
    #: done | skipped | failed | not-restored
    status: str
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "path": self.path, "status": self.status, "detail": self.detail}


@record
class CleanRollbackResult:
    entry_id: str
    outcomes: tuple[Restored, ...]
    #: Everything that was removed is back (or cannot be, like an interface).
    complete: bool

    def to_json(self) -> dict[str, object]:
        return {
            "journal": self.entry_id,
            "outcomes": [o.to_json() for o in self.outcomes],
            "complete": self.complete,
        }


def _one(entry: CleanEntry, kind: str, force: bool, index: int) -> ops.Done:
    item = entry.items[index]
    if kind == "move":
        return ops.restore_move(entry, item)
    if kind == "iptables":
        return ops.restore_chains(entry, item, force)
    if kind == "nft-table":
        return ops.restore_table(entry, item)
    return ops.Done(
        "not-restored",
        _(
            "interfaces are not re-created: the CNI makes them when it starts (addresses saved "
            "in {path})"
        ).format(path=f"{entry.id}/{item.stored}"),
    )


def rollback_clean(entry: CleanEntry, *, force: bool = False) -> CleanRollbackResult:
    with locked():
        entry = load(entry.directory)  # read again under the lock
        if entry.state == "rolled-back":
            raise CleanJournalError(_("{id} is already rolled back").format(id=entry.id))
        outcomes: list[Restored] = []
        for index in range(len(entry.items) - 1, -1, -1):
            item = entry.items[index]
            if item.state in ("skipped", "failed", "restored", "not-restored"):
                continue
            done = _one(entry, item.kind, force, index)
            outcomes.append(Restored(item.kind, item.path, done.status, done.detail))
            if done.status == "done":
                item.state = "restored"
            elif done.status == "not-restored":
                item.state = "not-restored"
            entry.save()
        complete = all(o.status in ("done", "not-restored") for o in outcomes)
        if complete:
            entry.state = "rolled-back"
            entry.rolled_back_at = time.time()
            entry.save()
        return CleanRollbackResult(entry.id, tuple(reversed(outcomes)), complete)


def rollback_text(result: CleanRollbackResult) -> str:
    lines = [f"{label(o.status, 12)} {o.kind} {o.path}: {o.detail}" for o in result.outcomes]
    if result.complete:
        lines.append(_("rolled back {id}").format(id=result.entry_id))
    else:
        lines.append(
            _(
                "{id}: not everything came back (see above); run 'nodedoctor rollback {id}' "
                "again once that is resolved"
            ).format(id=result.entry_id)
        )
    return "\n".join(lines) + "\n"
