"""Roots: a node's files at their absolute paths, read safely.

Every read is resolved component by component as if the root were ``/`` (a chroot):
absolute links are re-rooted, ``..`` never climbs above the root, and a link that
would leave it is refused. Reads are capped in size. A missing file is ``None``
("unknown"), never an error.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Mapping
from typing import TYPE_CHECKING

from nodedoctor._record import record
from nodedoctor.i18n import _

if TYPE_CHECKING:  # annotations only: an offline root never loads the command runner
    from nodedoctor.sources.commands import CommandResult, CommandRunner

DEFAULT_READ_LIMIT = 4 * 1024 * 1024
_MAX_LINK_HOPS = 40
#: Resolved directories kept per root; a tree walk is local, so a bounded cache keeps
#: nearly all of the gain and memory stays flat however many pods a node has.
_DIR_CACHE_SIZE = 8192
if TYPE_CHECKING:
    #: (resolved node parts, host path, host path when a component is missing, link hops).
    _WalkState = tuple[tuple[str, ...], str, str | None, int]


class UnsafePathError(Exception):
    """A path that would leave the root, or is not a plain relative request."""


@record
class ReadResult:
    text: str
    truncated: bool


class Root:
    """A node's filesystem. ``base`` is where ``/`` of the node is on this machine."""

    def __init__(
        self,
        base: str,
        *,
        live: bool = False,
        commands: CommandRunner | None = None,
        label: str | None = None,
        running: bool | None = None,
    ) -> None:
        self.base = os.path.realpath(base)
        self.live = live
        #: Whether ``/proc`` and the command outputs describe a running node: live, or a
        #: bundle recorded on one. Facts about running state (processes, PID 1, ``--version``
        #: outputs) ask this; ``live`` means "this machine, now" (platform calls, actions).
        self.running = live if running is None else running
        self.commands = commands
        self.label = label or ("/" if live else base)
        self._dirs: dict[tuple[str, ...], _WalkState] = {}

    # -- path resolution -------------------------------------------------
    def resolve(self, path: str) -> str:
        """The host path for node path ``path``, following links inside the root only.

        >>> import tempfile
        >>> r = Root(tempfile.mkdtemp())
        >>> r.resolve("/etc/os-release") == r.base + "/etc/os-release"
        True
        >>> r.resolve("/etc/../../x")
        Traceback (most recent call last):
        ...
        nodedoctor.sources.root.UnsafePathError: '/etc/../../x': '..' is not allowed in a node path
        """
        if not path.startswith("/"):
            raise UnsafePathError(f"{path!r}: node paths are absolute")
        if "\x00" in path:  # a path read from a node's file (a unit's EnvironmentFile=)
            raise UnsafePathError(f"{path!r}: a NUL byte is not allowed in a node path")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafePathError(f"{path!r}: '..' is not allowed in a node path")
        if self.base == "/":
            return os.path.normpath(path)
        # The directory is resolved once per check (cached), then only the last component:
        # a walk of 500 pods' cgroups under 13 v1 hierarchies asks for ~30,000 paths that
        # share their parents (bench/scale.py).
        *parent, last = parts if parts else [""]
        state = self._resolve_dir(tuple(parent), path)
        if parts:
            state = self._step(state, last, path)
        return state[1] if state[2] is None else state[2]

    def _resolve_dir(self, parts: tuple[str, ...], path: str) -> _WalkState:
        known = len(parts)
        while known and parts[:known] not in self._dirs:
            known -= 1
        state = self._dirs[parts[:known]] if known else ((), self.base, None, 0)
        for i in range(known, len(parts)):
            state = self._step(state, parts[i], path)
            if len(self._dirs) >= _DIR_CACHE_SIZE:
                self._dirs.clear()
            self._dirs[parts[: i + 1]] = state
        return state

    def _step(self, state: _WalkState, part: str, path: str) -> _WalkState:
        """Resolve one more component of a node path: (resolved parts, host path, host path
        if a component is missing, link hops so far)."""
        resolved, host, missing, hops = state
        if missing is not None:
            return resolved, host, f"{missing}/{part}", hops
        pending = [part]
        parts = list(resolved)
        while pending:
            part, pending = pending[0], pending[1:]
            if part == "..":
                if not parts:
                    raise UnsafePathError(f"{path!r}: a link leads outside the root")
                parts.pop()
                host = os.path.join(self.base, *parts)
                continue
            candidate = f"{host}/{part}"
            try:
                st = os.lstat(candidate)
            except OSError:
                if ".." in pending:
                    raise UnsafePathError(
                        f"{path!r}: a link leads through a missing directory"
                    ) from None
                return tuple(parts), host, os.path.join(candidate, *pending), hops
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise UnsafePathError(f"{path!r}: too many levels of links")
                target = os.readlink(candidate)
                target_parts = [p for p in target.split("/") if p not in ("", ".")]
                if target.startswith("/"):
                    parts, host = [], self.base
                pending = target_parts + pending
                continue
            parts.append(part)
            host = candidate
        return tuple(parts), host, None, hops

    # -- reads -----------------------------------------------------------
    def read(self, path: str, limit: int = DEFAULT_READ_LIMIT) -> ReadResult | None:
        """Text of ``path`` (UTF-8, undecodable bytes replaced), or ``None`` when absent."""
        data = self.read_bytes(path, limit)
        if data is None:
            return None
        raw, truncated = data
        return ReadResult(raw.decode("utf-8", errors="replace"), truncated)

    def read_text(self, path: str, limit: int = DEFAULT_READ_LIMIT) -> str | None:
        result = self.read(path, limit)
        return None if result is None else result.text

    def read_tail(self, path: str, limit: int = DEFAULT_READ_LIMIT) -> ReadResult | None:
        """The last ``limit`` bytes of ``path`` (for logs), from the first whole line;
        ``truncated`` tells that the start was cut. ``None`` when absent."""
        got = self._read_raw(path, limit, tail=True)
        if got is None:
            return None
        raw, start = got
        if start > 0:
            raw = raw[raw.find(b"\n") + 1 :] if b"\n" in raw else b""
        return ReadResult(raw.decode("utf-8", errors="replace"), start > 0)

    def read_bytes(self, path: str, limit: int = DEFAULT_READ_LIMIT) -> tuple[bytes, bool] | None:
        got = self._read_raw(path, limit + 1)
        if got is None:
            return None
        raw = got[0]
        return raw[:limit], len(raw) > limit

    def _read_raw(self, path: str, size: int, *, tail: bool = False) -> tuple[bytes, int] | None:
        """Up to ``size`` bytes of the regular file at node path ``path`` (with ``tail``, its
        last ``size`` bytes) and the offset they start at. ``None`` when it is absent,
        unreadable or not a regular file: the last component is opened without following a
        link (the root resolved the others) and without blocking on a FIFO."""
        try:
            host = self.resolve(path)
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, UnsafePathError):
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            start = max(0, st.st_size - size) if tail else 0
            if start:
                os.lseek(fd, start, os.SEEK_SET)
            chunks: list[bytes] = []
            got = 0
            while got < size:
                chunk = os.read(fd, min(65536, size - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)
        return b"".join(chunks), start

    def left_out(self, path: str) -> str | None:
        """Why the file at ``path`` is missing from this copy of a node although the node
        has it (a bundle's writer left it out), or ``None``."""
        return None

    def incomplete_listings(self) -> Mapping[str, str]:
        """The directories whose listing in this copy of a node lacks entries the node has
        (a bundle's writer left them out), each with why; empty for a node's own files."""
        return {}

    def exists(self, path: str) -> bool:
        try:
            return os.path.lexists(self.resolve(path))
        except UnsafePathError:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            return os.path.isdir(self.resolve(path))
        except UnsafePathError:
            return False

    def listdir(self, path: str) -> list[str] | None:
        """Sorted entry names of a directory, or ``None`` when it is absent."""
        try:
            return sorted(os.listdir(self.resolve(path)))
        except (OSError, UnsafePathError):
            return None

    def subdirs(self, path: str) -> list[str] | None:
        """Sorted names of the directories in ``path`` (a link counts when it leads to a
        directory inside the root), or ``None`` when ``path`` is absent: ``listdir`` and
        ``is_dir`` of each entry in one ``scandir``, without a stat per entry (a node's pod
        cgroups under 13 cgroup v1 hierarchies are tens of thousands of entries)."""
        if type(self).listdir is not Root.listdir or type(self).is_dir is not Root.is_dir:
            # A root that watches its reads (collect) sees them one by one, as before.
            base = path.rstrip("/")
            names = self.listdir(path)
            return None if names is None else [n for n in names if self.is_dir(f"{base}/{n}")]
        return self._subdirs_on_disk(path)

    def _subdirs_on_disk(self, path: str) -> list[str] | None:
        base = path.rstrip("/")
        try:
            with os.scandir(self.resolve(path)) as entries:
                found = [
                    e.name
                    for e in entries
                    if e.is_dir(follow_symlinks=False)
                    or (e.is_symlink() and self.is_dir(f"{base}/{e.name}"))
                ]
        except (OSError, UnsafePathError):
            return None
        return sorted(found)

    def readlink(self, path: str) -> str | None:
        """The target of the link at ``path`` as written (not followed, not re-rooted: procfs's
        ``/proc/<pid>/fd/<n>`` reads ``socket:[12345]``), or ``None`` when it is not a link."""
        parent, _sep, name = path.rpartition("/")
        if not name or name in (".", ".."):
            return None
        try:
            return os.readlink(os.path.join(self.resolve(parent or "/"), name))
        except (OSError, UnsafePathError):
            return None

    def glob(self, directory: str, pattern: str) -> list[str]:
        """Node paths in ``directory`` whose names match ``pattern``, in lexical order."""
        names = self.listdir(directory) or []
        base = directory.rstrip("/")
        return [f"{base}/{n}" for n in names if fnmatch.fnmatchcase(n, pattern)]

    def run(self, name: str) -> CommandResult | None:
        """Output of allowlisted command ``name``; ``None`` when this root cannot run commands."""
        if self.commands is None:
            return None
        return self.commands.run(name)


def live_root() -> Root:
    from nodedoctor.sources.commands import LiveCommands

    return Root("/", live=True, commands=LiveCommands())


#: The directories of which any entry marks a node's root (with an os-release file).
_MARK_DIRS = ("/proc", "/sys", "/usr")


def has_node_marks(root: Root) -> bool:
    """Whether ``root`` has an os-release file or anything under ``/proc``, ``/sys`` or
    ``/usr``: every installed system, disk image and bundle has one of them.

    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> has_node_marks(Root(base))
    False
    >>> os.makedirs(base + "/usr/lib"); has_node_marks(Root(base))
    True
    """
    for directory, name in (("/etc", "os-release"), ("/usr/lib", "os-release")):
        try:  # the name is the mark: /etc/os-release is a link into a /usr not mounted yet
            if os.path.lexists(os.path.join(root.resolve(directory), name)):
                return True
        except UnsafePathError:
            continue
    for directory in _MARK_DIRS:
        try:
            with os.scandir(root.resolve(directory)) as entries:
                if next(entries, None) is not None:
                    return True
        except (OSError, UnsafePathError):
            pass
        if root.listdir(directory):  # entries a root holds off disk (a bundle's empty dirs)
            return True
    return False


def not_a_node_root(root: Root, shown: str) -> str | None:
    """Why ``root`` (given as ``shown``) is refused when it has none of a node's marks: an
    empty directory, an unmounted mount point or a root's parent is never a healthy node.
    ``shown/root`` is suggested when that directory has them (a case given one level too
    high). ``None`` for a root that has a mark.

    >>> import tempfile
    >>> case = tempfile.mkdtemp()
    >>> os.makedirs(case + "/root/proc/1")
    >>> message = not_a_node_root(Root(case), case).replace(case, "CASE")
    >>> message.split(": ", 1)[0], message.split("; ")[1]
    ("CASE does not look like a node's root", 'did you mean CASE/root?')
    >>> not_a_node_root(Root(case + "/root"), case + "/root") is None
    True
    """
    if has_node_marks(root):
        return None
    inner = os.path.join(shown, "root")
    given_directory = os.path.isdir(shown) and os.path.realpath(shown) == root.base
    if given_directory and os.path.isdir(inner) and has_node_marks(Root(inner)):
        return _(
            "{path} does not look like a node's root: no /etc/os-release, /proc, /sys or /usr; "
            "did you mean {inner}?"
        ).format(path=shown, inner=inner)
    return _(
        "{path} does not look like a node's root: no /etc/os-release, /proc, /sys or /usr"
    ).format(path=shown)


def directory_root(path: str) -> Root:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: not a directory")
    return Root(path, live=False, label=path)
