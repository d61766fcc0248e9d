"""Writing a command's output to a file: atomically, so readers never see half of it.

The node exporter's textfile collector, NPD and CI systems read these files while nodedoctor
writes them; a temp file in the same directory renamed over the target is all or nothing.
"""

from __future__ import annotations

import contextlib
import os

from nodedoctor.cli.common import UsageError

_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _temp_file(directory: str, prefix: str) -> tuple[int, str]:
    """What ``tempfile.mkstemp(prefix=prefix, dir=directory)`` does (an unguessable name,
    created exclusively, mode 0600), without importing tempfile: with random and shutil it
    costs ~3 ms of a run, and the textfile collector's DaemonSet writes every minute."""
    for _ in range(100):
        path = os.path.join(directory, prefix + os.urandom(6).hex())
        try:
            return os.open(path, _TEMP_FLAGS, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {directory}")


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"--output {path}: directory {directory} does not exist")
    fd, tmp = _temp_file(directory, f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
