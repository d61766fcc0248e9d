"""Filesystem primitives of the fix engine: where a node path is written, whether it may
be, and the atomic write that keeps mode, owner and SELinux label.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct

from nodedoctor._record import record
from nodedoctor.sources.root import Root, UnsafePathError

SELINUX_XATTR = "security.selinux"
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x00000010
_FS_APPEND_FL = 0x00000020


class RefusedError(Exception):
    """The engine will not touch this path; the message names it and says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def host_path(root: Root, node_path: str) -> str:
    """Where ``node_path`` is on this machine, following links that stay in the root.

    On an offline root a link leaving it is refused (``Root.resolve``); on the live root
    links are followed so that the link's target is edited and the link itself kept.
    """
    try:
        resolved = root.resolve(node_path)
    except UnsafePathError as exc:
        raise RefusedError(node_path, f"refused: {exc}") from None
    if root.base == "/":
        return os.path.realpath(resolved)
    base = root.base.rstrip("/") + "/"
    if not (resolved + "/").startswith(base):
        raise RefusedError(node_path, "refused: resolves outside the root")
    return resolved


@record
class FileState:
    exists: bool
    data: bytes | None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    selinux: bytes | None = None
    links: int = 1


def read_state(host: str) -> FileState:
    """The file's bytes and metadata without following a final link."""
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return FileState(False, None)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RefusedError(host, "refused: is a link") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RefusedError(host, "refused: not a regular file")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        label = get_selinux(fd)
    finally:
        os.close(fd)
    return FileState(
        True,
        b"".join(chunks),
        stat.S_IMODE(st.st_mode),
        st.st_uid,
        st.st_gid,
        label,
        st.st_nlink,
    )


def get_selinux(fd: int) -> bytes | None:
    try:
        return os.getxattr(fd, SELINUX_XATTR)
    except OSError:
        return None


def _set_selinux(fd: int, label: bytes | None) -> None:
    if label is None:
        return
    try:
        if os.getxattr(fd, SELINUX_XATTR) == label:
            return
    except OSError:
        pass
    try:
        os.setxattr(fd, SELINUX_XATTR, label)
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


def check_writable(host: str, state: FileState) -> None:
    """Refuse a file that is read-only: no write bit for anyone, an immutable or
    append-only attribute, or a read-only filesystem (the file's or its directory's)."""
    directory = os.path.dirname(host)
    if state.exists and state.mode is not None:
        if not state.mode & 0o222:
            raise RefusedError(host, f"refused: read-only (mode {state.mode:04o})")
        if state.links > 1:
            raise RefusedError(
                host,
                f"refused: hard-linked ({state.links} names); replacing it would leave the "
                "other names with the old content",
            )
        flags = _inode_flags(host)
        if flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
            raise RefusedError(host, "refused: immutable or append-only (chattr)")
    probe = directory
    while not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    if os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise RefusedError(host, "refused: on a read-only filesystem")
    if not os.access(probe, os.W_OK):
        raise RefusedError(host, f"refused: directory {probe} is not writable")


def _inode_flags(host: str) -> int:
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        buf = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
        return int(struct.unpack("l", buf)[0])
    except OSError:
        return 0
    finally:
        os.close(fd)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: str, mode: int = 0o755) -> list[str]:
    """Create ``directory`` and missing parents; the ones created, outermost first."""
    created: list[str] = []
    probe = directory
    while not os.path.isdir(probe):
        created.append(probe)
        probe = os.path.dirname(probe)
    for d in reversed(created):
        os.mkdir(d, mode)
        fsync_dir(os.path.dirname(d))
    return list(reversed(created))


def temp_name(host: str, tag: str) -> str:
    return os.path.join(os.path.dirname(host), f".{os.path.basename(host)}.nodedoctor-{tag}.tmp")


def _fill(
    fd: int, data: bytes, *, mode: int, uid: int | None, gid: int | None, selinux: bytes | None
) -> None:
    """Write ``data`` to ``fd``, give it its owner, mode and label, and sync it."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    st = os.fstat(fd)
    want_uid = st.st_uid if uid is None else uid
    want_gid = st.st_gid if gid is None else gid
    if (st.st_uid, st.st_gid) != (want_uid, want_gid):
        os.fchown(fd, want_uid, want_gid)
    if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
        os.fchmod(fd, mode)
    _set_selinux(fd, selinux)
    os.fsync(fd)


def _open_anonymous(directory: str) -> int | None:
    """A new file in ``directory``'s filesystem with no name yet (``O_TMPFILE``), or None
    where there is none (vfat, overlayfs of old kernels, Linux before 3.11, no /proc)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None
        raise


def _link_anonymous(fd: int, path: str) -> None:
    """Name the anonymous file ``fd`` ``path`` (linkat through /proc; never replaces)."""
    dirfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # With a dst_dir_fd os.link calls linkat with AT_SYMLINK_FOLLOW: the file itself is
        # linked, not the /proc symlink.
        os.link(f"/proc/self/fd/{fd}", os.path.basename(path), dst_dir_fd=dirfd)
    finally:
        os.close(dirfd)


def atomic_write(
    host: str,
    data: bytes,
    *,
    tag: str,
    mode: int,
    uid: int | None = None,
    gid: int | None = None,
    selinux: bytes | None = None,
) -> None:
    """Write ``data`` to ``host`` so that a crash leaves either the old or the new file.

    Where the filesystem allows it, the bytes go to a file with no name (``O_TMPFILE`` in
    ``host``'s directory), written and synced, then linked at the journaled temp name
    (:func:`temp_name`) and at once renamed over ``host``: a kill leaves a temp beside the
    target only between those two system calls (a drop-in directory such as crio.conf.d,
    whose every file CRI-O reads, never shows a partial or a stray file while the bytes are
    written). Elsewhere the named temp is written, synced and renamed. Either way
    ``rollback`` removes a temp a kill left (the manifest names it)."""
    tmp = temp_name(host, tag)
    if os.path.lexists(tmp):
        os.unlink(tmp)
    directory = os.path.dirname(host)
    fd = _open_anonymous(directory)
    if fd is not None:
        try:
            _fill(fd, data, mode=mode, uid=uid, gid=gid, selinux=selinux)
            _link_anonymous(fd, tmp)
        finally:
            os.close(fd)
        os.rename(tmp, host)
        fsync_dir(directory)
        return
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        _fill(fd, data, mode=mode, uid=uid, gid=gid, selinux=selinux)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, host)
    fsync_dir(directory)


def remove_file(host: str) -> None:
    os.unlink(host)
    fsync_dir(os.path.dirname(host))
