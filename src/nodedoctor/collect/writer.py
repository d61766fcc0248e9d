"""Writing a bundle that its own reader opens: every member is checked against the reader's
:class:`~nodedoctor.sources.bundle.Limits` before it is written, and one that would break a
limit is left out (the caller notes it in the manifest) instead of making the whole bundle
unreadable. :func:`write_members` writes collect's members in the order that keeps what
matters most when a limit is reached.

The reader refuses a member's name (:func:`~nodedoctor.sources.bundle.member_name`), a
member over ``member_bytes``, more than ``members`` members, more than ``total_bytes`` of tar
stream, and a stream that inflates more than ``ratio`` times its compressed size once
``ratio_after`` bytes are out. The last one depends on how the bytes compress, so the writer
compresses each member itself (a copy of its deflate state: a member left out leaves no
trace) with a sync flush every :data:`FLUSH_BYTES`, which makes the compressed size exact at
every flush, and keeps ``inflated - ratio/2 * compressed <= ratio_after/4`` there. Between
two flushes the reader can then see at most about 140 times, never ``ratio``: a repetitive
file is left out, not the bundle refused.

>>> import io
>>> from nodedoctor.sources.bundle import DEFAULT_LIMITS
>>> out = io.BytesIO()
>>> w = BundleWriter(out, DEFAULT_LIMITS, 0)
>>> w.add("etc/os-release", b"ID=debian\\n"), w.add("var/log/x", b"a" * 8_000_000)
(None, 'compresses more than 100 times (a bundle past 200 is refused as a bomb)')
>>> w.add("etc/os-release", b""), w.add("etc/a\\\\b", b"")
('written twice', "control character or backslash in its name ('etc/a\\\\\\\\b')")
>>> w.close()
>>> import gzip, tarfile
>>> tarfile.open(fileobj=io.BytesIO(gzip.decompress(out.getvalue()))).getnames()
['etc/os-release']
"""

from __future__ import annotations

import json
import posixpath
import struct
import tarfile
import zlib
from collections.abc import Iterable
from typing import IO

from nodedoctor.collect.secrets import redact_text
from nodedoctor.sources.bundle import (
    COMMANDS_DIR,
    BundleError,
    Limits,
    command_to_json,
    member_name,
)
from nodedoctor.sources.commands import CommandResult

#: Uncompressed bytes between two sync flushes of the deflate stream.
FLUSH_BYTES = 64 * 1024
_BLOCK = tarfile.BLOCKSIZE


class BundleWriter:
    """A ``.tar.gz`` written to ``raw`` within ``limits``; :meth:`add` says why a member was
    left out (``None`` when written). ``reserve`` members are kept for :meth:`add` with
    ``required`` (the commands and the manifest), which raises instead of leaving out."""

    def __init__(self, raw: IO[bytes], limits: Limits, mtime: float, reserve: int = 0) -> None:
        self._raw = raw
        self._limits = limits
        self._mtime = int(mtime)
        self._reserve = reserve
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._inflated = 0
        self._compressed = 0
        self._members = 0
        self._kinds: dict[str, str] = {}
        self._parents: set[str] = set()
        # gzip's header (RFC 1952): no name, the mtime, "maximum compression", unknown OS.
        raw.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", self._mtime & 0xFFFFFFFF) + b"\x02\xff")
        self._compressed += 10

    def add(self, name: str, data: bytes | None, *, required: bool = False) -> str | None:
        """Add file ``name`` (relative, ``/``-separated) with ``data``, or a directory when
        ``data`` is ``None``; why it was left out, or ``None``."""
        reason = self._refusal(name, data, required)
        if reason is None:
            info = tarfile.TarInfo(name)
            info.mtime = self._mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                blob = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            else:
                info.mode = 0o644
                info.size = len(data)
                header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
                blob = header + data + b"\0" * (-len(data) % _BLOCK)
            reason = self._write(blob)
        if reason is None:
            self._kinds[name] = "dir" if data is None else "file"
            self._members += 1
            # The reader makes a member's parents as directories, listed or not.
            parts = name.split("/")
            self._parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
        elif required:
            raise BundleError(f"{name}: {reason}; the bundle cannot be written")
        return reason

    def add_link(self, name: str, target: str) -> str | None:
        """Add symlink ``name`` -> ``target`` (relative: the reader refuses a link that leaves
        the bundle); why it was left out, or ``None``."""
        reason = self._refusal(name, b"", False)
        if reason is None and (not target or target.startswith("/") or "\x00" in target):
            reason = f"link target {target!r} is not relative"
        if reason is None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            info.mtime = self._mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o777
            reason = self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if reason is None:
            self._kinds[name] = "file"
            self._members += 1
            parts = name.split("/")
            self._parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return reason

    def _refusal(self, name: str, data: bytes | None, required: bool) -> str | None:
        """Why the reader would refuse member ``name``, from its name, kind and size (the
        member count first: past it, tens of thousands of cgroups are turned away)."""
        room = self._limits.members - (0 if required else self._reserve)
        if self._members >= room:
            return f"the bundle holds at most {self._limits.members} members"
        try:
            member_name(tarfile.TarInfo(name), self._limits)
        except BundleError as exc:
            return str(exc).split(": ", 1)[1] + f" ({name!r})"
        if name in self._kinds:
            return "written twice"
        if data is not None and name in self._parents:
            return "a directory in the bundle (a member lies under it)"
        parts = name.split("/")
        for i in range(1, len(parts)):
            if self._kinds.get("/".join(parts[:i])) == "file":
                return f"lies under {'/'.join(parts[:i])!r}, a file in the bundle"
        if data is not None and len(data) > self._limits.member_bytes:
            return f"larger than a bundle's {self._limits.member_bytes}-byte limit for a file"
        return None

    def _write(self, blob: bytes) -> str | None:
        """Compress ``blob`` on a copy of the stream; keep it only when every flush point
        stays within the reader's total and ratio."""
        limits = self._limits
        if self._inflated + len(blob) + tarfile.RECORDSIZE > limits.total_bytes:
            return f"the bundle would exceed {limits.total_bytes} bytes once decompressed"
        trial = self._deflate.copy()
        inflated, compressed = self._inflated, self._compressed
        out: list[bytes] = []
        # The bound between flushes holds when they are at most a quarter of ratio_after apart.
        step = max(min(FLUSH_BYTES, limits.ratio_after // 4), _BLOCK)
        for start in range(0, len(blob), step):
            piece = blob[start : start + step]
            chunk = trial.compress(piece) + trial.flush(zlib.Z_SYNC_FLUSH)
            inflated += len(piece)
            compressed += len(chunk)
            out.append(chunk)
            if inflated - limits.ratio // 2 * compressed > limits.ratio_after // 4:
                return (
                    f"compresses more than {limits.ratio // 2} times (a bundle past "
                    f"{limits.ratio} is refused as a bomb)"
                )
        for chunk in out:
            self._raw.write(chunk)
        self._deflate = trial
        self._crc = zlib.crc32(blob, self._crc)
        self._inflated, self._compressed = inflated, compressed
        return None

    def close(self) -> None:
        """The end of the archive (two zero blocks, padded to tar's record) and gzip's
        trailer; the caller flushes and closes ``raw``."""
        end = b"\0" * (2 * _BLOCK)
        end += b"\0" * (-(self._inflated + len(end)) % tarfile.RECORDSIZE)
        self._raw.write(self._deflate.compress(end) + self._deflate.flush())
        self._crc = zlib.crc32(end, self._crc)
        self._inflated += len(end)
        self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._inflated & 0xFFFFFFFF))


def tar_dirs(paths: Iterable[str]) -> list[str]:
    """Every directory the ``/``-separated relative ``paths`` lie in (the reader makes them)."""
    out: set[str] = set()
    for path in paths:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return sorted(out)


def _directory_order(path: str) -> tuple[bool, int, str]:
    """Cgroups last, then the deepest: a pod's cgroup is judged orphaned against the pod
    directories the kubelet keeps, so a cgroup left out is a finding missed where a pod
    directory left out would be a false one."""
    return path.startswith("/sys/fs/cgroup/"), path.count("/"), path


def write_members(
    writer: BundleWriter,
    files: dict[str, bytes],
    *,
    placeholder_paths: Iterable[str],
    dir_paths: Iterable[str],
    commands: dict[str, CommandResult],
    left_out: dict[str, str],
    links: dict[str, str] | None = None,
    members_left_out: dict[str, str] | None = None,
) -> tuple[list[str], list[str], tuple[int, str]]:
    """Files, placeholders, command outputs, then the directories no member implies (the
    reader makes a member's parents) in :func:`_directory_order`: when the reader's member
    limit is reached, what goes is empty cgroups (a 5,000-pod cgroup v1 node lists 65,000).
    What the writer leaves out goes from ``files`` and ``commands`` to ``left_out``, and the
    placeholders and directories it leaves out to ``members_left_out``, with why. Returns
    the directories and placeholders in the bundle, and how many directories were left out
    and why."""
    members_left_out = {} if members_left_out is None else members_left_out
    for path in sorted(files):
        reason = writer.add(path.lstrip("/"), files[path])
        if reason is not None:
            left_out[path] = reason
            del files[path]
    # Links the rules followed (a program's alternatives, a process's socket), as links:
    # an absolute target becomes the same path relative to the link.
    written_links: set[str] = set()
    for path, target in sorted((links or {}).items()):
        if path in files:
            continue
        relative = target
        if target.startswith("/"):
            relative = posixpath.relpath(target, posixpath.dirname(path))
        if writer.add_link(path.lstrip("/"), relative) is None:
            written_links.add(path)
    # Directory names are kept even where contents are withheld (pod UIDs under
    # /var/lib/kubelet/pods tell which pods the kubelet still has).
    dirs = set(dir_paths)
    placeholders = []
    for path in sorted(placeholder_paths):
        if path in files or path in dirs or path in written_links:
            continue
        reason = writer.add(path.lstrip("/"), b"")
        if reason is None:
            placeholders.append(path)
        else:
            members_left_out[path] = reason
    for name, result in sorted(commands.items()):
        body = json.dumps(command_to_json(result), indent=1).encode()
        text, _ = redact_text(body.decode())
        reason = writer.add(f"{COMMANDS_DIR}/{name}.json", text.encode())
        if reason is not None:
            left_out[f"{COMMANDS_DIR}/{name}.json"] = reason
            del commands[name]
    implied = {f"/{n}" for n in tar_dirs(p.lstrip("/") for p in (*files, *placeholders))}
    present = dirs & implied
    skipped, why = 0, ""
    for directory in sorted(dirs - implied, key=_directory_order):
        reason = writer.add(directory.lstrip("/"), None)
        if reason is None:
            present.add(directory)
        else:
            skipped, why = skipped + 1, why or reason
            members_left_out[directory] = reason
    return sorted(present), placeholders, (skipped, why)
