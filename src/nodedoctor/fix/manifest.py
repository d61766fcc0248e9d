"""Reading a journal manifest bounded, and checking its fields: a manifest is written by
nodedoctor but read back from disk, where a crash, a full disk or a hand edit may have
damaged it. Each failure is a :class:`JournalError` naming the file, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Collection
from typing import Any

#: A manifest names a few files (one per planned edit, a few boot entries); 4 MiB is far
#: above any real one, and reading it whole stays cheap.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: A manifest nests three deep (entry, files, file); ``json`` recurses once per level.
MAX_MANIFEST_DEPTH = 8
BACKUP = re.compile(r"files/[0-9]{1,9}")
SHA = re.compile(r"[0-9a-f]{64}")


#: Times in a manifest are seconds since 1970 before the year 2242 (time_t and gmtime()
#: take them; 1e300, NaN or inf would raise in the listing).
MAX_TIME = 2**33


class JournalError(Exception):
    """A journal that is missing, unreadable or not ours."""


class FieldError(ValueError):
    """A manifest field of the wrong shape (the message names it)."""


def typed(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind):
        raise FieldError(f"{name} is not {kind.__name__}")
    return value


def timestamp(value: object, name: str) -> float:
    """A time (seconds since the epoch) of a manifest."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(f"{name} is not a time")
    if not 0 <= value < MAX_TIME:  # also NaN; json reads NaN, Infinity and 1e400 (inf)
        raise FieldError(f"{name} is not a time: {value!r}")
    return float(value)


def entry_header(
    directory: str, data: dict[str, Any], states: Collection[str]
) -> tuple[str, str, float, float | None]:
    """The fields every journal entry has: its id (the name of ``directory``), its state
    (one of ``states``), when it was created and when it was rolled back (or None)."""
    entry_id = typed(data.get("id"), str, "id")
    if entry_id != os.path.basename(directory.rstrip("/")):
        raise FieldError(f"id {entry_id!r} is not the entry's directory name")
    state = typed(data.get("state"), str, "state")
    if state not in states:
        raise FieldError(f"unknown state {state!r}")
    rolled = data.get("rolled_back_at")
    return (
        entry_id,
        state,
        timestamp(data.get("created"), "created"),
        None if rolled is None else timestamp(rolled, "rolled_back_at"),
    )


def optional_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldError(f"{name} is not a non-negative integer")
    return value


def node_path(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise FieldError(f"{name} is not an absolute path")
    return value


def node_paths(value: object, name: str) -> list[str]:
    if not isinstance(value, list):
        raise FieldError(f"{name} is not a list")
    return [node_path(v, name) for v in value]


def read_manifest(directory: str, schema: str) -> dict[str, Any]:
    """The JSON object in ``directory``/manifest.json, read bounded; :class:`JournalError`
    naming the file when it is missing, too large, nested too deep or not ``schema``."""
    path = os.path.join(directory, "manifest.json")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise JournalError(f"{path}: missing (the entry was never completed)") from None
    except OSError as exc:
        raise JournalError(f"{path}: unreadable journal manifest: {exc.strerror}") from None
    chunks: list[bytes] = []
    size = 0
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JournalError(f"{path}: not a regular file")
        while size <= MAX_MANIFEST_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise JournalError(f"{path}: unreadable journal manifest: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_MANIFEST_BYTES:
        raise JournalError(
            f"{path}: larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB, the bound for a "
            "journal manifest"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JournalError(f"{path}: not UTF-8") from None
    from nodedoctor.parsers import LimitError
    from nodedoctor.parsers.limits import check_json_depth

    try:
        check_json_depth(text, MAX_MANIFEST_DEPTH)
        parsed = json.loads(text)
    except LimitError as exc:
        raise JournalError(f"{path}: {exc}, the bound for a journal manifest") from None
    except (ValueError, RecursionError) as exc:
        raise JournalError(f"{path}: unreadable journal manifest: {exc}") from None
    if not isinstance(parsed, dict) or parsed.get("schema") != schema:
        raise JournalError(f"{path}: not a nodedoctor journal")
    return parsed
