"""One evaluation for a whole node-problem-detector cycle.

NPD runs one plugin process per node condition every ``invoke_interval`` (deploy/: seven
``check --format npd --only FAMILY`` runs a minute). Each used to evaluate its family on its
own: a cycle cost five to six full checks of CPU on every node. With ``--npd-cache DIR``
(the pod's emptyDir) the first plugin run of a cycle evaluates every family in one process
(:func:`nodedoctor.render.npd.cycle_lines`) and writes each family's NPD line to
``DIR/cycle`` (temp file and rename: a reader sees the old document or the new one, never a
part); the cycle's other runs print their line from it while it is younger than
``--npd-cache-ttl`` seconds, from :mod:`nodedoctor.entry`, before the command line
interface is imported. This module is that shortcut's whole import: the standard library's
``os``, ``sys`` and ``time`` only (no ``json``, ``typing`` or ``re``, a third of a
cached run's cost). bench/npd.py measures the cycle.

The document is ASCII text, one record a line, simple enough for a POSIX shell to read
(deploy/nodedoctor-npd, the DaemonSet's plugin, prints a cached line without starting
Python at all): its format name; the key, ``VERSION<TAB>ROOT<TAB>PROFILE`` (``-`` for no
profile); the evaluation's start in whole seconds since the epoch; then one record per family
and ``--fail-on`` severity, ``FAMILY<TAB>SEVERITY<TAB>EXIT<TAB>LINE`` (an NPD line is one line
of printable ASCII without tabs); and ``end``. A root or profile that is not printable
ASCII without tabs is never shared. Nothing read is trusted beyond its shape: a file that
is too large, of another format, build, root or profile, from the future or too old, or
with a malformed record is a miss, and the caller evaluates afresh.
"""

from __future__ import annotations

import os
import sys
import time

FORMAT = "nodedoctor-npd-cycle/1"
#: The document's last line: a reader that has not seen it has not read it whole.
END = "end"
CACHE_NAME = "cycle"
LOCK_NAME = ".cycle.lock"
#: The document is a line per family and severity; anything larger is not ours.
MAX_BYTES = 64 * 1024
#: Default ``--npd-cache-ttl``: shorter than NPD's 60 s ``invoke_interval``, so each cycle
#: evaluates afresh, and longer than a cycle's runs take.
DEFAULT_TTL = 30.0
SEVERITIES = ("error", "warning", "info")
#: The key's root for a check of the machine itself (no ``--root``).
LIVE = "live"

#: The options a cached run may carry (each with one value), as NPD's rules pass them.
_VALUED = ("--root", "--profile", "--format", "--only", "--fail-on", "--npd-cache")
_TTL = "--npd-cache-ttl"

#: family -> severity -> (exit status, line)
Lines = dict[str, dict[str, tuple[int, str]]]


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and "\t" not in text


def cache_key(root: str, profile: str | None) -> str | None:
    """What a cached document must match besides its age: the build that wrote it and what
    it evaluated; ``None`` when they cannot be written as a plain line (not shared).

    >>> cache_key("/host", None).split(chr(9))[1:]
    ['/host', '-']
    >>> cache_key("/ho" + chr(9) + "st", None) is None
    True
    """
    from nodedoctor import __version__

    if not (_plain(root) and _plain(profile or "") and root and profile != "-"):
        return None
    return f"{__version__}\t{root}\t{profile or '-'}"


def options(argv: list[str]) -> dict[str, str] | None:
    """``check``'s options from ``argv`` when it is a cacheable NPD run, else ``None``
    (anything unexpected: argparse and the full path handle it)."""
    if not argv or argv[0] != "check":
        return None
    out: dict[str, str] = {}
    words = argv[1:]
    at = 0
    while at < len(words):
        word = words[at]
        value = words[at + 1] if at + 1 < len(words) else ""
        if (word in _VALUED or word == _TTL) and value and not value.startswith("-"):
            if word in out:
                return None
            out[word] = value
            at += 2
        else:
            return None
    if out.get("--format") != "npd" or "--only" not in out or "--npd-cache" not in out:
        return None
    return out


def ttl_of(value: str | None) -> float | None:
    """``--npd-cache-ttl``'s seconds, or ``None`` for a value that is not one.

    >>> ttl_of("30"), ttl_of(None), ttl_of("-1"), ttl_of("nan")
    (30.0, 30.0, None, None)
    """
    if value is None:
        return DEFAULT_TTL
    try:
        ttl = float(value)
    except ValueError:
        return None
    return ttl if 0 <= ttl <= 3600 else None


def read_cached(directory: str, key: str, ttl: float, now: int | None = None) -> Lines | None:
    """The lines of the document in ``directory`` if it matches ``key`` and is younger than
    ``ttl`` seconds and every record is well formed, else ``None``."""
    try:
        with open(os.path.join(directory, CACHE_NAME), "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_BYTES:
        return None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    records = text.split("\n")
    if len(records) < 5 or records[0] != FORMAT or records[1] != key or records[-2:] != [END, ""]:
        return None
    if not records[2].isdigit() or not records[2].isascii():
        return None
    age = (int(time.time()) if now is None else now) - int(records[2])
    if not 0 <= age < ttl:
        return None
    lines: Lines = {}
    for record in records[3:-2]:
        fields = record.split("\t")
        if len(fields) != 4 or fields[1] not in SEVERITIES or fields[2] not in ("0", "1", "2"):
            return None
        lines.setdefault(fields[0], {})[fields[1]] = (int(fields[2]), fields[3])
    return lines


def hit(argv: list[str]) -> int | None:
    """Print the cached line for this NPD run and give its exit status; ``None`` when the
    run must evaluate (no usable document, or arguments this shortcut does not take)."""
    opts = options(argv)
    if opts is None or opts.get("--fail-on", "error") not in SEVERITIES:
        return None
    ttl = ttl_of(opts.get(_TTL))
    if ttl is None:
        return None
    key = cache_key(opts.get("--root", LIVE), opts.get("--profile"))
    lines = read_cached(opts["--npd-cache"], key, ttl) if key else None
    found = lines.get(opts["--only"], {}).get(opts.get("--fail-on", "error")) if lines else None
    if found is None:
        return None
    sys.stdout.write(found[1] + "\n")
    return found[0]


def document(key: str, started: int, lines: Lines) -> str:
    """The text :func:`read_cached` reads."""
    out = [FORMAT, key, str(started)]
    for family, by_severity in lines.items():
        for severity, (code, line) in by_severity.items():
            out.append(f"{family}\t{severity}\t{code}\t{line}")
    return "\n".join([*out, END]) + "\n"


class Lock:
    """An exclusive ``flock`` on ``DIR/.cycle.lock``: NPD runs two plugins at a time, and one
    evaluation a cycle is the point."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, LOCK_NAME)
        self.fd = -1

    def __enter__(self) -> Lock:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self.fd)  # releases the lock


def write_cached(directory: str, text: str) -> None:
    """``text`` as ``DIR/cycle``, atomically."""
    import contextlib
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".cycle-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp, os.path.join(directory, CACHE_NAME))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
