"""The rpm database of RHEL-like 9, Fedora >= 33 and openEuler >= 22.03: a SQLite file,
``rpmdb.sqlite``, read where it lies under the root (no copy).

It is opened read-only and immutable (``?mode=ro&immutable=1``): SQLite then takes no lock
and writes no ``-wal`` or ``-shm`` file beside it, so a read-only image, a live node's
database and a bundle are all read the same way and none is changed. Immutable also means
that a write-ahead log rpm has not checkpointed yet (a transaction under way) is not read;
the caller is told its size. Only the headers of the packages asked for are read, through
rpm's own ``Name`` index, each at most :data:`MAX_HEADER` bytes, within a bounded number of
SQLite steps (a crafted file cannot make the read run long).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection

from nodedoctor._record import record
from nodedoctor.sources.root import Root, UnsafePathError

#: Where the database is: /var/lib/rpm is a link to the second on Fedora >= 36.
RPMDB_PATHS = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
#: rpm's own cap on a header's data (lib/header.c hdrchkData), plus its index.
MAX_HEADER = 32 * 1024 * 1024
#: Rows read at most: a name is installed once, or a few times (multilib, install-only).
MAX_ROWS = 256
#: SQLite virtual-machine steps allowed, checked every 1000: far more than an indexed lookup
#: of a dozen names needs (a few thousand), far less than a scan of a crafted file.
MAX_STEPS = 2_000_000


class RpmdbError(Exception):
    """The database could not be read (not SQLite, no ``Packages`` table, too slow)."""


@record
class RpmdbHeaders:
    """Header blobs (``hnum``, bytes) of the packages asked for, in ``hnum`` order."""

    path: str
    headers: tuple[tuple[int, bytes], ...]
    #: Bytes in ``rpmdb.sqlite-wal`` not read (a transaction rpm has not checkpointed).
    unread_wal: int = 0


def _sqlite_uri(host_path: str) -> str:
    """A read-only, immutable ``file:`` URI for ``host_path`` (``%``, ``?`` and ``#`` escaped).

    >>> _sqlite_uri("/srv/n?1/var/lib/rpm/rpmdb.sqlite")
    'file:/srv/n%3f1/var/lib/rpm/rpmdb.sqlite?mode=ro&immutable=1'
    """
    escaped = host_path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{escaped}?mode=ro&immutable=1"


def find_rpmdb(root: Root) -> str | None:
    """The node path of the root's SQLite rpm database, or ``None`` without one."""
    for path in RPMDB_PATHS:
        try:
            st = os.stat(root.resolve(path))  # resolve followed the links inside the root
        except (OSError, UnsafePathError):
            continue
        if stat.S_ISREG(st.st_mode):
            return path
    return None


def read_rpmdb_headers(root: Root, path: str, names: Collection[str]) -> RpmdbHeaders:
    """The headers of the packages named ``names`` in the database at node path ``path``."""
    try:
        host = root.resolve(path)
    except UnsafePathError as exc:
        raise RpmdbError(str(exc)) from None
    try:
        wal = os.stat(f"{host}-wal").st_size
    except OSError:
        wal = 0
    import sqlite3  # only RPM nodes pay for it

    steps = [0]

    def too_long() -> int:
        steps[0] += 1000
        return 1 if steps[0] > MAX_STEPS else 0

    query = (
        "SELECT p.hnum, CASE WHEN length(p.blob) <= ? THEN p.blob END, length(p.blob) "
        "FROM Packages AS p WHERE p.hnum IN (SELECT hnum FROM Name WHERE key = ?) "
        "ORDER BY p.hnum LIMIT ?"
    )
    rows: list[tuple[object, object, object]] = []
    try:
        connection = sqlite3.connect(_sqlite_uri(host), uri=True)
    except sqlite3.Error as exc:
        raise RpmdbError(f"cannot open it: {exc}") from None
    try:
        connection.set_progress_handler(too_long, 1000)
        for name in sorted(set(names)):
            rows += connection.execute(query, (MAX_HEADER, name, MAX_ROWS)).fetchall()
    except sqlite3.Error as exc:
        why = "too many steps; not an rpm database" if steps[0] > MAX_STEPS else str(exc)
        raise RpmdbError(f"cannot read it: {why}") from None
    finally:
        connection.close()
    headers: list[tuple[int, bytes]] = []
    for hnum, blob, size in rows:
        if isinstance(size, int) and size > MAX_HEADER:
            raise RpmdbError(f"package {hnum}: a header of {size} bytes")
        if not isinstance(blob, bytes) or not isinstance(hnum, int):
            raise RpmdbError(f"package {hnum!r}: its header is not a blob")
        headers.append((hnum, blob))
    return RpmdbHeaders(path, tuple(sorted(headers)), wal)
