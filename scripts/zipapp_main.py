"""Run nodedoctor from its single-file build: ``python3 nodedoctor.pyz check``.

``scripts/build_zipapp.py`` copies this file into the zip as ``__main__.py`` and fills in
``BUILD_ID`` (a hash of everything in the zip).

Python compiles modules it imports from a zip on every start, because it cannot cache their
bytecode there; for nodedoctor and its vendored TOML and YAML parsers that costs more than the
check itself. So, like shiv, the first run unpacks the zip into a private cache directory and
later runs import from there, where Python keeps ``__pycache__`` as usual:

- ``$NODEDOCTOR_CACHE_DIR`` (``off`` runs from the zip and writes nothing), else
  ``$XDG_CACHE_HOME/nodedoctor``, else ``~/.cache/nodedoctor``; one subdirectory per build;
- the cache is trusted only when it is a real directory owned by this user and writable by
  no one else; otherwise, and whenever anything fails (a read-only file system), nodedoctor
  runs from the zip as it is.
"""

from __future__ import annotations

import os
import stat
import sys

BUILD_ID = "unbuilt"
_COMPLETE = ".complete"


def _private_dir(path: str) -> bool:
    """A real directory, owned by us, that nobody else can write into."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _cache_root() -> str | None:
    setting = os.environ.get("NODEDOCTOR_CACHE_DIR")
    if setting is not None:
        return None if setting in ("", "off", "0") else setting
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "nodedoctor")
    home = os.path.expanduser("~")
    if not os.path.isabs(home):
        return None
    return os.path.join(home, ".cache", "nodedoctor")


def _unpack(archive: str, root: str, target: str) -> bool:
    import shutil
    import tempfile
    import zipfile

    os.makedirs(root, mode=0o700, exist_ok=True)
    if not _private_dir(root):
        return False
    work = tempfile.mkdtemp(prefix=f".{BUILD_ID}-", dir=root)
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                parts = name.split("/")
                if name.startswith("/") or ".." in parts or name.endswith("/"):
                    continue
                dest = os.path.join(work, *parts)
                os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
                with zf.open(name) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        with open(os.path.join(work, _COMPLETE), "w", encoding="utf-8") as done:
            done.write(BUILD_ID + "\n")
        try:
            os.rename(work, target)
        except OSError:
            # Another run unpacked the same build first; use theirs.
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return True


def _use_cache() -> None:
    archive = sys.path[0]
    if BUILD_ID == "unbuilt" or not os.path.isfile(archive):
        return
    root = _cache_root()
    if root is None:
        return
    target = os.path.join(root, BUILD_ID)
    try:
        ready = _private_dir(root) and _private_dir(target)
        if not ready:
            ready = _unpack(archive, root, target) and _private_dir(target)
        if ready and os.path.isfile(os.path.join(target, _COMPLETE)):
            sys.path[0] = target
    except Exception:  # noqa: S110 - any trouble with the cache: run from the zip
        pass


# The one check older Pythons must still be able to run (the package itself is 3.9+ code).
if sys.version_info < (3, 9):  # noqa: UP036
    sys.stderr.write("nodedoctor needs Python 3.9 or newer; this is %s\n" % sys.version.split()[0])  # noqa: UP031
    sys.exit(2)

_use_cache()

from nodedoctor.entry import main  # noqa: E402 - after the cache decided where to import from

sys.exit(main())
