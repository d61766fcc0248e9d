"""The journaled clean steps on the live node, and their rollback: moving files and
directories into the journal, deleting interfaces, removing iptables chains and nftables
tables. Each re-checks the node before it acts, keeps what it removes in the journal first
(``clean/journal.py``), and says what it did.

Moves rename into the journal when it is on the same filesystem; otherwise they copy
(metadata, owners and extended attributes kept; sockets and device files are not data and are
left out, named in the journal) and then remove the original, bounded in size. Nothing is
moved that has a mount on it or below it. Rules are removed through each backend's own
restore tool (``iptables-restore --noflush`` with ``-D``, ``-F``, ``-X`` lines; ``nft delete
table``), after the table was saved as that tool's input.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Sequence

from nodedoctor._record import record
from nodedoctor.clean.journal import CleanEntry, Item
from nodedoctor.facts.netfilter import chain_owner
from nodedoctor.i18n import _
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.mountinfo import Mount, parse_mountinfo
from nodedoctor.parsers.netfilter import IptTable, parse_iptables_save
from nodedoctor.sources.commands import run_program

#: A move that has to copy (another filesystem) keeps at most this much in the journal.
MAX_COPY_BYTES = 512 * 1024 * 1024
MAX_COPY_ENTRIES = 50_000
COMMAND_TIMEOUT = 60.0


@record
class Done:
    #: done | gone | skipped | failed
    status: str
    detail: str


def read_mounts() -> list[Mount]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        return parse_mountinfo(f.read())


def mounted_at_or_below(path: str) -> str | None:
    """A mount point at ``path`` or below it, if any."""
    try:
        mounts = read_mounts()
    except (OSError, ParseError) as exc:
        return _("cannot read /proc/self/mountinfo: {error}").format(error=exc)
    prefix = path.rstrip("/") + "/"
    for m in mounts:
        if m.mount_point == path or m.mount_point.startswith(prefix):
            return m.mount_point
    return None


# -- moves ------------------------------------------------------------------------------


def _measure(path: str) -> tuple[int, int, list[str]]:
    """Entries, bytes and the special files (sockets, fifos, devices) under ``path``."""
    entries, size = 0, 0
    special: list[str] = []
    todo = [path]
    while todo:
        current = todo.pop()
        st = os.lstat(current)
        entries += 1
        if entries > MAX_COPY_ENTRIES:
            return entries, size, special
        if stat.S_ISDIR(st.st_mode):
            todo += [os.path.join(current, n) for n in os.listdir(current)]
        elif stat.S_ISREG(st.st_mode):
            size += st.st_size
        elif not stat.S_ISLNK(st.st_mode):
            special.append(current)
    return entries, size, special


def _copy_tree(src: str, dst: str) -> None:
    """``src`` to ``dst`` with modes, owners, times and extended attributes; special files
    are left out (measured before)."""
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copy2(src, dst, follow_symlinks=False)
    elif stat.S_ISDIR(st.st_mode):
        os.mkdir(dst, 0o700)
        for name in sorted(os.listdir(src)):
            _copy_tree(os.path.join(src, name), os.path.join(dst, name))
        shutil.copystat(src, dst, follow_symlinks=False)
    else:
        return
    os.lchown(dst, st.st_uid, st.st_gid)


def _remove_tree(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def move_out(entry: CleanEntry, path: str) -> Done:
    """Move ``path`` into ``entry``: rename on the same filesystem, else copy and remove."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Done("gone", _("no longer there"))
    below = mounted_at_or_below(path)
    if below is not None:
        return Done("skipped", _("{path} is mounted there: unmount it first").format(path=below))
    rel, dest = entry.slot("files")
    index = entry.add(Item("move", path, stored=rel))
    item = entry.items[index]
    journal_dev = os.stat(entry.directory).st_dev
    if st.st_dev == journal_dev:
        try:
            os.rename(path, dest)
        except OSError as exc:
            item.state, item.note = "failed", f"rename: {exc.strerror}"
            entry.save()
            return Done("failed", _("rename into the journal: {error}").format(error=exc.strerror))
        item.state, item.how = "done", "rename"
        entry.save()
        return Done("done", _("moved into the journal ({id})").format(id=entry.id))
    entries, size, special = _measure(path)
    if entries > MAX_COPY_ENTRIES or size > MAX_COPY_BYTES:
        item.state = "skipped"
        item.note = f"{entries} entries, {size // (1024 * 1024)} MiB on another filesystem"
        entry.save()
        return Done(
            "skipped",
            _(
                "on another filesystem than the journal and too large to copy there ({size}); "
                "move it by hand"
            ).format(size=item.note),
        )
    part = dest + ".part"
    try:
        _copy_tree(path, part)
        os.rename(part, dest)
        item.how = "copy"
        if special:
            item.note = "not kept (sockets, fifos, devices): " + ", ".join(special[:20])
        entry.save()
        _remove_tree(path)
    except OSError as exc:
        item.state, item.note = "failed", f"copy: {exc.strerror or exc}"
        entry.save()
        return Done("failed", _("copy into the journal: {error}").format(error=exc.strerror or exc))
    item.state = "done"
    entry.save()
    return Done("done", _("copied into the journal ({id}) and removed").format(id=entry.id))


def _put_back(src: str, dst: str) -> None:
    """Bring ``src`` (in the journal) back to ``dst``, never over something that is there."""
    os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_tree(src, dst)
        _remove_tree(src)


def restore_move(entry: CleanEntry, item: Item) -> Done:
    stored = entry.host(item.stored)
    here = os.path.lexists(item.path)
    kept = os.path.lexists(stored)
    if not kept:
        if item.state == "pending" and here:
            return Done("done", _("was not moved (the apply stopped before it)"))
        return Done("failed", _("{path} is missing from the journal").format(path=item.stored))
    if here:
        return Done(
            "skipped",
            _("{path} exists again: not overwritten (move it aside first)").format(path=item.path),
        )
    try:
        _put_back(stored, item.path)
    except OSError as exc:
        return Done(
            "failed", _("could not move it back: {error}").format(error=exc.strerror or exc)
        )
    return Done("done", _("moved back"))


# -- interfaces -----------------------------------------------------------------------


def delete_link(entry: CleanEntry, name: str) -> Done:
    if not os.path.exists(f"/sys/class/net/{name}"):
        return Done("gone", _("no such interface any more"))
    rel, dest = entry.slot("saved", ".txt")
    shown = run_program(("ip", "-d", "addr", "show", "dev", name), COMMAND_TIMEOUT)
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write(shown.stdout)
    index = entry.add(Item("link", name, stored=rel, how="ip link delete"))
    item = entry.items[index]
    ran = run_program(("ip", "link", "delete", "dev", name), COMMAND_TIMEOUT)
    if ran.returncode != 0 and os.path.exists(f"/sys/class/net/{name}"):
        item.state, item.note = "failed", ran.stderr.strip()
        entry.save()
        return Done(
            "failed",
            _("ip link delete: {error}").format(error=ran.stderr.strip() or ran.returncode),
        )
    item.state = "done"
    entry.save()
    return Done(
        "done",
        _("deleted (its addresses are saved in {path})").format(path=f"{entry.id}/{rel}"),
    )


# -- iptables -------------------------------------------------------------------------


_COUNTERS = re.compile(r"\[\d+:\d+\]$")


def _table_text(text: str, table: IptTable) -> list[str]:
    """The lines of ``table`` in an iptables-save dump, ``*name`` to ``COMMIT``, without
    comments and with the chains' packet counters at zero (they move with every packet): a
    restore input for that table alone."""
    lines = text.splitlines()
    out: list[str] = []
    for line in lines[table.line - 1 :]:
        if line.startswith("#"):
            continue
        out.append(_COUNTERS.sub("[0:0]", line) if line.startswith(":") else line)
        if line.strip() == "COMMIT":
            break
    return out


def table_digest(text: str, name: str) -> str | None:
    """sha256 of table ``name`` in a dump (``None`` when the dump has no such table)."""
    dump = parse_iptables_save(text)
    table = dump.table(name)
    if table is None:
        return None
    return hashlib.sha256("\n".join(_table_text(text, table)).encode()).hexdigest()


def _save(command: str) -> str:
    ran = run_program((command,), COMMAND_TIMEOUT)
    if ran.returncode != 0:
        raise OSError(f"{command}: {ran.stderr.strip() or ran.returncode}")
    return ran.stdout


def restore_command(save_command: str) -> str:
    """``iptables-nft-save`` -> ``iptables-nft-restore``."""
    return save_command[: -len("-save")] + "-restore"


def removal_input(table: IptTable) -> tuple[list[str], list[str]]:
    """The restore input that removes the allowlisted chains of ``table`` and the rules of
    other chains that jump to them; and those chains."""
    ours = [c.name for c in table.chains if not c.builtin and chain_owner(c.name) is not None]
    mine = set(ours)
    lines = [f"*{table.name}"]
    lines += [
        f"-D {r.chain} {r.spec}" for r in table.rules if r.chain not in mine and r.target in mine
    ]
    lines += [f"-F {c}" for c in ours]
    lines += [f"-X {c}" for c in ours]
    lines.append("COMMIT")
    return lines, ours


def remove_chains(entry: CleanEntry, command: str, table_name: str) -> Done:
    try:
        text = _save(command)
        table = parse_iptables_save(text).table(table_name)
    except (OSError, ParseError) as exc:
        return Done("skipped", _("cannot read the rules now: {error}").format(error=exc))
    if table is None:
        return Done("gone", _("no table {table} any more").format(table=table_name))
    lines, chains = removal_input(table)
    if not chains:
        return Done("gone", _("none of its chains is left"))
    rel, dest = entry.slot("saved", ".rules")
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write("\n".join(_table_text(text, table)) + "\n")
    with open(dest[: -len(".rules")] + ".remove", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    restore = restore_command(command)
    index = entry.add(
        Item(
            "iptables",
            f"{command} table {table_name}",
            stored=rel,
            how=restore,
            table=table_name,
            chains=chains,
        )
    )
    item = entry.items[index]
    ran = run_program((restore, "--noflush", dest[: -len(".rules")] + ".remove"), COMMAND_TIMEOUT)
    if ran.returncode != 0:
        item.state, item.note = "failed", ran.stderr.strip()
        entry.save()
        return Done("failed", f"{restore}: {ran.stderr.strip() or ran.returncode}")
    try:
        after = _save(command)
        item.after = table_digest(after, table_name) or ""
        left = parse_iptables_save(after).table(table_name)
    except (OSError, ParseError) as exc:
        item.state, item.note = "done", f"not verified: {exc}"
        entry.save()
        return Done(
            "done",
            _("{n} chain(s) removed (not verified: {error})").format(n=len(chains), error=exc),
        )
    item.state = "done"
    entry.save()
    still = [c.name for c in (left.chains if left else ()) if c.name in set(chains)]
    if still:
        return Done(
            "failed",
            _("still there after {command}: {chains}").format(
                command=restore, chains=", ".join(still)
            ),
        )
    return Done(
        "done",
        _("{n} chain(s) removed; the table is saved in {path}").format(
            n=len(chains), path=f"{entry.id}/{rel}"
        ),
    )


def _readd_input(saved: Sequence[str], now: IptTable | None) -> list[str]:
    """Restore input that puts the saved chains and jump rules back where they are missing,
    appending (``--force`` over a table that changed since the clean)."""
    saved_table = parse_iptables_save("\n".join(saved) + "\n").tables[0]
    present_chains = {c.name for c in now.chains} if now else set()
    present_rules = {(r.chain, r.spec) for r in now.rules} if now else set()
    ours = {c.name for c in saved_table.chains if not c.builtin and chain_owner(c.name)}
    lines = [f"*{saved_table.name}"]
    lines += [f":{c} - [0:0]" for c in sorted(ours - present_chains)]
    lines += [
        f"-A {r.chain} {r.spec}"
        for r in saved_table.rules
        if (r.chain in ours or r.target in ours) and (r.chain, r.spec) not in present_rules
    ]
    lines.append("COMMIT")
    return lines


def restore_chains(entry: CleanEntry, item: Item, force: bool) -> Done:
    command = item.path.split(" ", 1)[0]
    stored = entry.host(item.stored)
    try:
        with open(stored, encoding="utf-8") as fh:
            saved = fh.read().splitlines()
        now_text = _save(command)
        now_table = parse_iptables_save(now_text).table(item.table)
    except (OSError, ParseError) as exc:
        return Done("failed", _("cannot read the rules: {error}").format(error=exc))
    digest = table_digest(now_text, item.table) if now_table else None
    if item.state == "pending" or digest == item.after:
        ran = run_program((item.how, stored), COMMAND_TIMEOUT)
        if ran.returncode != 0:
            return Done("failed", f"{item.how}: {ran.stderr.strip() or ran.returncode}")
        return Done("done", _("table {table} restored as it was").format(table=item.table))
    if not force:
        return Done(
            "skipped",
            _(
                "table {table} changed since the clean (a new cluster's rules?): not "
                "replaced; --force adds the saved chains back where they are missing"
            ).format(table=item.table),
        )
    readd = stored[: -len(".rules")] + ".readd"
    with open(readd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(_readd_input(saved, now_table)) + "\n")
    ran = run_program((item.how, "--noflush", readd), COMMAND_TIMEOUT)
    if ran.returncode != 0:
        return Done("failed", f"{item.how}: {ran.stderr.strip() or ran.returncode}")
    return Done(
        "done", _("the saved chains added back to {table} (--force)").format(table=item.table)
    )


# -- nftables -------------------------------------------------------------------------


def delete_table(entry: CleanEntry, table: str) -> Done:
    family, name = table.split(" ", 1)
    listed = run_program(("nft", "list", "table", family, name), COMMAND_TIMEOUT)
    if listed.returncode != 0:
        return Done("gone", _("no table {table} any more").format(table=table))
    rel, dest = entry.slot("saved", ".nft")
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write(listed.stdout)
    index = entry.add(Item("nft-table", f"nft table {table}", stored=rel, how="nft", table=table))
    item = entry.items[index]
    ran = run_program(("nft", "delete", "table", family, name), COMMAND_TIMEOUT)
    if ran.returncode != 0:
        item.state, item.note = "failed", ran.stderr.strip()
        entry.save()
        return Done(
            "failed",
            _("nft delete table: {error}").format(error=ran.stderr.strip() or ran.returncode),
        )
    item.state = "done"
    entry.save()
    return Done(
        "done", _("deleted; saved as nft -f input in {path}").format(path=f"{entry.id}/{rel}")
    )


def restore_table(entry: CleanEntry, item: Item) -> Done:
    family, name = item.table.split(" ", 1)
    exists = run_program(("nft", "list", "table", family, name), COMMAND_TIMEOUT)
    if exists.returncode == 0:
        if item.state == "pending":
            return Done("done", _("was not deleted (the apply stopped before it)"))
        return Done(
            "skipped", _("table {table} exists again: not replaced").format(table=item.table)
        )
    ran = run_program(("nft", "-f", entry.host(item.stored)), COMMAND_TIMEOUT)
    if ran.returncode != 0:
        return Done(
            "failed", _("nft -f: {error}").format(error=ran.stderr.strip() or ran.returncode)
        )
    return Done("done", _("table {table} restored").format(table=item.table))
