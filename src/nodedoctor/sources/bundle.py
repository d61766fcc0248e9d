"""Bundles: a ``.tar.gz`` written by ``nodedoctor collect`` that is itself a root.

A bundle is hostile input. It is extracted with our own code (never ``tarfile.extract``)
into a private temporary directory (mode 0700) that is removed when the root is closed
or the process exits, and the whole archive is refused with :class:`BundleError` when a
member has an absolute name or ``..``, a link leaves the root (symlink or hardlink), a
member is a device, fifo or anything but a file, directory or link, a name repeats, or
the archive exceeds the member-count, per-file or total size limits. Decompression is
streamed and counted, so a decompression bomb is stopped by the total cap or the ratio
check before it fills the disk.

Layout (DESIGN.md "Bundle"): the node's files at their absolute paths, plus
``.nodedoctor/manifest.json`` (``schema``, ``created``, ``hostname``, ``tool``,
``files``) and ``.nodedoctor/commands/<name>.json`` (one :class:`CommandResult` each).
The running-process facts are the ``/proc/<pid>/comm`` and ``cmdline`` files of the
watched daemons, so ``facts/processes.py`` reads them like on a live node.
"""

from __future__ import annotations

import gzip
import json
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import weakref
import zlib
from collections.abc import Iterable, Mapping
from typing import IO, Any

from nodedoctor._record import record
from nodedoctor.sources.commands import ALLOWLIST, CommandResult, RecordedCommands
from nodedoctor.sources.root import Root

META_DIR = ".nodedoctor"
MANIFEST = f"{META_DIR}/manifest.json"
COMMANDS_DIR = f"{META_DIR}/commands"
MANIFEST_SCHEMA = "nodedoctor/bundle/v1"


class BundleError(Exception):
    """A bundle that cannot be opened safely; the message says which member and why."""


@record
class Limits:
    """What a bundle may hold. The defaults are far above what ``collect`` writes."""

    #: Size of the ``.tar.gz`` file itself.
    compressed_bytes: int = 256 * 1024 * 1024
    #: Decompressed bytes of the whole tar stream (headers included).
    total_bytes: int = 512 * 1024 * 1024
    #: Largest single member.
    member_bytes: int = 64 * 1024 * 1024
    #: Each member is a file or directory made on disk (50 to 100 us each on ext4): a bundle
    #: refused at the limit costs under 3 s.
    members: int = 30_000
    #: Decompressed/compressed ratio refused once ``ratio_after`` bytes have been inflated.
    ratio: int = 200
    ratio_after: int = 4 * 1024 * 1024
    name_length: int = 1024
    depth: int = 64


DEFAULT_LIMITS = Limits()


class _CountingGzip:
    """A read-only stream of the decompressed tar, stopping at the limits."""

    def __init__(self, raw: IO[bytes], limits: Limits, label: str) -> None:
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._limits = limits
        self._label = label
        self.inflated = 0

    def read(self, size: int = -1) -> bytes:
        want = 1024 * 1024 if size is None or size < 0 else size
        try:
            data = self._gzip.read(want)
        except (OSError, EOFError, zlib.error) as exc:
            raise BundleError(f"{self._label}: not a valid gzip stream ({exc})") from None
        self.inflated += len(data)
        if self.inflated > self._limits.total_bytes:
            raise BundleError(
                f"{self._label}: more than {self._limits.total_bytes} bytes once decompressed"
            )
        if self.inflated > self._limits.ratio_after:
            used = max(self._raw.tell(), 1)
            if self.inflated / used > self._limits.ratio:
                raise BundleError(
                    f"{self._label}: decompresses more than {self._limits.ratio} times its "
                    "size (a decompression bomb?)"
                )
        return data

    def close(self) -> None:
        self._gzip.close()


_CONTROL_OR_BACKSLASH = re.compile(r"[\x00-\x1f\x7f\\]")


def member_name(info: tarfile.TarInfo, limits: Limits) -> str:
    """The member's normalised relative name, or a :class:`BundleError`."""
    name = info.name
    if not name or len(name) > limits.name_length:
        raise BundleError(f"member {name[:80]!r}: empty or overlong name")
    if _CONTROL_OR_BACKSLASH.search(name):
        raise BundleError(f"member {name!r}: control character or backslash in its name")
    if name.startswith("/"):
        raise BundleError(f"member {name!r}: absolute names are not allowed")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError(f"member {name!r}: '..' is not allowed")
    if not parts and info.isdir():
        return "."
    if not parts:
        raise BundleError(f"member {name!r}: names no file")
    if len(parts) > limits.depth:
        raise BundleError(f"member {name!r}: nested deeper than {limits.depth}")
    return "/".join(parts)


def _link_stays_inside(member: str, target: str) -> bool:
    """Whether a symlink at ``member`` pointing to ``target`` resolves inside the root."""
    if not target or target.startswith("/") or "\x00" in target:
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    return resolved != ".." and not resolved.startswith("../") and not resolved.startswith("/")


class _Extractor:
    def __init__(self, dest: str, limits: Limits, label: str, on_disk: bool = True) -> None:
        self.dest = dest
        self.limits = limits
        self.label = label
        #: Whether a directory with nothing under it is made on disk (else it is a name in
        #: ``seen`` only: the root keeps it, :class:`BundleRoot`).
        self.on_disk = on_disk
        self.seen: dict[str, str] = {}  # name -> "file" | "dir" | "link"

    def _host(self, name: str) -> str:
        return os.path.join(self.dest, *name.split("/"))

    def _parent_dirs(self, name: str) -> None:
        """Create the member's parent directories; refuse to pass through a link."""
        current = self.dest
        for part in name.split("/")[:-1]:
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current, 0o700)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise BundleError(
                    f"{self.label}: member {name!r} lies under {part!r}, which is not a directory"
                )

    def _parents_in_memory(self, name: str) -> None:
        """Refuse a directory member that lies under a file or a link of the bundle (what
        :meth:`_parent_dirs` refuses on disk)."""
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if self.seen.get(parent, "dir") != "dir":
                raise BundleError(
                    f"{self.label}: member {name!r} lies under {parts[i - 1]!r}, which is not "
                    "a directory"
                )

    def add(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        name = member_name(info, self.limits)
        if name == ".":
            return
        if name in self.seen:
            raise BundleError(f"{self.label}: member {name!r} appears twice")
        if info.isdir():
            if not self.on_disk:
                self._parents_in_memory(name)
                self.seen[name] = "dir"
                return
            self._parent_dirs(name)
            host = self._host(name)
            if not os.path.lexists(host):
                os.mkdir(host, 0o700)
            elif not stat.S_ISDIR(os.lstat(host).st_mode):
                raise BundleError(f"{self.label}: member {name!r} is not a directory")
            self.seen[name] = "dir"
            return
        if info.issym():
            if not _link_stays_inside(name, info.linkname):
                raise BundleError(
                    f"{self.label}: symlink {name!r} -> {info.linkname!r} leaves the bundle"
                )
            self._parent_dirs(name)
            os.symlink(info.linkname, self._host(name))
            self.seen[name] = "link"
            return
        if info.islnk():
            target = member_name(tarfile.TarInfo(info.linkname), self.limits)
            if self.seen.get(target) != "file":
                raise BundleError(
                    f"{self.label}: hardlink {name!r} -> {info.linkname!r} does not name an "
                    "earlier file of the bundle"
                )
            self._parent_dirs(name)
            self._write(name, _copy_source(self._host(target)))
            return
        if not info.isreg():
            raise BundleError(
                f"{self.label}: member {name!r} is a {_kind(info)}; only files, directories "
                "and links inside the bundle are allowed"
            )
        if info.size > self.limits.member_bytes:
            raise BundleError(
                f"{self.label}: member {name!r} is {info.size} bytes, over the "
                f"{self.limits.member_bytes}-byte limit"
            )
        self._parent_dirs(name)
        stream = tar.extractfile(info)
        if stream is None:
            raise BundleError(f"{self.label}: member {name!r} has no data")
        self._write(name, stream)

    def _write(self, name: str, stream: IO[bytes]) -> None:
        host = self._host(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(host, flags, 0o600)
        written = 0
        try:
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    break
                written += len(chunk)
                if written > self.limits.member_bytes:
                    raise BundleError(f"{self.label}: member {name!r} is over the size limit")
                os.write(fd, chunk)
        finally:
            os.close(fd)
            stream.close()
        self.seen[name] = "file"


def _copy_source(path: str) -> IO[bytes]:
    return open(path, "rb")


def _kind(info: tarfile.TarInfo) -> str:
    if info.ischr():
        return "character device"
    if info.isblk():
        return "block device"
    if info.isfifo():
        return "fifo"
    return f"member of tar type {info.type!r}"


def extract_bundle(
    path: str,
    dest: str,
    limits: Limits = DEFAULT_LIMITS,
    *,
    empty_dirs: set[str] | None = None,
) -> list[str]:
    """Extract bundle ``path`` into the existing empty directory ``dest``; the member names.
    With ``empty_dirs``, a directory member is added to it instead of being made on disk
    (a file below it still makes it): a bundle of a cgroup v1 node is mostly empty pod
    cgroups, and tens of thousands of ``mkdir`` cost seconds.

    Raises :class:`BundleError` on anything unsafe; ``dest`` may then hold a partial tree,
    which the caller removes.
    """
    label = path
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise BundleError(f"{label}: cannot open ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise BundleError(f"{label}: not a regular file")
    with os.fdopen(fd, "rb") as raw:
        if st.st_size > limits.compressed_bytes:
            raise BundleError(f"{label}: larger than {limits.compressed_bytes} bytes")
        stream = _CountingGzip(raw, limits, label)
        extractor = _Extractor(dest, limits, label, on_disk=empty_dirs is None)
        count = 0
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for info in tar:
                    count += 1
                    if count > limits.members:
                        raise BundleError(f"{label}: more than {limits.members} members")
                    extractor.add(tar, info)
        except OSError as exc:
            raise BundleError(f"{label}: cannot extract ({exc})") from None
        except tarfile.TarError as exc:
            raise BundleError(f"{label}: not a valid tar archive ({exc})") from None
        except (EOFError, zlib.error) as exc:
            raise BundleError(f"{label}: truncated or corrupt ({exc})") from None
        finally:
            stream.close()
    if empty_dirs is not None:
        empty_dirs.update(name for name, kind in extractor.seen.items() if kind == "dir")
    return sorted(extractor.seen)


class RecordedRoot(Root):
    """A root that a bundle's files make (extracted, or a directory it was extracted to): its
    recorded commands and running state, and what its writer left out, from its manifest."""

    def __init__(self, base: str, *, label: str, manifest: dict[str, Any]) -> None:
        commands = RecordedCommands(_load_commands(base))
        # A bundle collected from an offline root records no running state.
        running = manifest.get("running", True) is not False
        super().__init__(base, live=False, running=running, commands=commands, label=label)
        self.manifest = manifest
        listings = manifest.get("incomplete_listings")
        self._incomplete = (
            {k: v for k, v in listings.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(listings, dict)
            else {}
        )

    def left_out(self, path: str) -> str | None:
        reasons = self.manifest.get("left_out_reasons")
        reason = reasons.get(path) if isinstance(reasons, dict) else None
        return reason if isinstance(reason, str) else None

    def incomplete_listings(self) -> Mapping[str, str]:
        return self._incomplete


class BundleRoot(RecordedRoot):
    """A root backed by an extracted bundle; removed by :meth:`close` or at exit. Its
    directory members are kept as names (``dirs``, relative), made on disk only where a
    file lies below them: listings, ``exists`` and ``is_dir`` join both."""

    def __init__(
        self,
        base: str,
        *,
        label: str,
        manifest: dict[str, Any],
        owned: str,
        dirs: Iterable[str] = (),
    ) -> None:
        super().__init__(base, label=label, manifest=manifest)
        self._finalizer = weakref.finalize(self, shutil.rmtree, owned, True)
        #: node path of each directory member and of each directory above one -> the names
        #: of the directories below it.
        self._tree: dict[str, set[str]] = {}
        for name in dirs:
            parts = name.split("/")
            for i in range(len(parts)):
                self._tree.setdefault("/" + "/".join(parts[:i]), set()).add(parts[i])
            self._tree.setdefault("/" + name, set())

    def _below(self, path: str) -> set[str] | None:
        return self._tree.get("/" + "/".join(p for p in path.split("/") if p not in ("", ".")))

    def exists(self, path: str) -> bool:
        return self._below(path) is not None or super().exists(path)

    def is_dir(self, path: str) -> bool:
        return self._below(path) is not None or super().is_dir(path)

    def listdir(self, path: str) -> list[str] | None:
        names, below = super().listdir(path), self._below(path)
        if below is None:
            return names
        return sorted(below.union(names or ()))

    def subdirs(self, path: str) -> list[str] | None:
        names, below = self._subdirs_on_disk(path), self._below(path)
        if below is None:
            return names
        return sorted(below.union(names or ()))

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> BundleRoot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_json(path: str, limit: int = 4 * 1024 * 1024) -> Any:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        raw = f.read(limit + 1)
    if len(raw) > limit:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def command_from_json(data: Any) -> CommandResult | None:
    """A recorded command, or ``None`` when the record is malformed or not allowlisted."""
    if not isinstance(data, dict):
        return None
    name = data.get("name")
    argv = data.get("argv")
    returncode = data.get("returncode")
    if not isinstance(name, str) or name not in ALLOWLIST:
        return None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    if returncode is not None and (isinstance(returncode, bool) or not isinstance(returncode, int)):
        return None
    stdout, stderr = data.get("stdout", ""), data.get("stderr", "")
    if not isinstance(stdout, str) or not isinstance(stderr, str):
        return None
    return CommandResult(
        name=name,
        argv=tuple(argv),
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        missing=data.get("missing") is True,
        timed_out=data.get("timed_out") is True,
    )


def command_to_json(result: CommandResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "argv": list(result.argv),
        "returncode": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "missing": result.missing,
        "timed_out": result.timed_out,
    }


def _load_commands(base: str) -> dict[str, CommandResult]:
    directory = os.path.join(base, *COMMANDS_DIR.split("/"))
    out: dict[str, CommandResult] = {}
    if not os.path.isdir(directory) or os.path.islink(directory):
        return out
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".json"):
            continue
        result = command_from_json(_read_json(os.path.join(directory, entry)))
        if result is not None and entry == f"{result.name}.json":
            out[result.name] = result
    return out


def load_manifest(base: str) -> dict[str, Any] | None:
    data = _read_json(os.path.join(base, *MANIFEST.split("/")))
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        return None
    return data


def open_bundle(path: str, limits: Limits = DEFAULT_LIMITS) -> BundleRoot:
    """Extract and open bundle ``path``; raises :class:`BundleError` when it is unsafe."""
    tmp = tempfile.mkdtemp(prefix="nodedoctor-bundle-")
    os.chmod(tmp, 0o700)
    base = os.path.join(tmp, "root")
    dirs: set[str] = set()
    try:
        os.mkdir(base, 0o700)
        extract_bundle(path, base, limits, empty_dirs=dirs)
        manifest = load_manifest(base)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if manifest is None:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"{path}: no valid {MANIFEST}; not a nodedoctor bundle")
    return BundleRoot(base, label=f"bundle:{path}", manifest=manifest, owned=tmp, dirs=dirs)


def bundle_directory_root(path: str) -> Root | None:
    """An already extracted bundle given as ``--root DIR``: a root with its recorded commands
    and running state; ``None`` when ``DIR`` holds no bundle manifest."""
    manifest = load_manifest(path)
    if manifest is None:
        return None
    return RecordedRoot(path, label=path, manifest=manifest)
