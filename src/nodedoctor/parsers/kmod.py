"""``/lib/modules/<release>/modules.dep``: the kernel modules installed for a release, as
``depmod`` lists them (one module per line, its path under the release's directory, a colon,
then the modules it depends on).

A module is named by its file without the ``.ko`` suffix and the compression after it, with
``-`` read as ``_`` (kmod treats the two alike, so ``modprobe br-netfilter`` loads
``br_netfilter``):

>>> sorted(parse_modules_dep(
...     "kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\\n"
...     "kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz\\n"
...     "kernel/fs/overlayfs/overlay.ko:\\n"
...     "updates/dkms/zfs.ko.zst: updates/dkms/spl.ko.zst\\n"))
['br_netfilter', 'bridge', 'overlay', 'zfs']
>>> parse_modules_dep("kernel/fs/overlayfs/overlay.ko\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 1: expected '<module path>: <dependencies>'
"""

from __future__ import annotations

from nodedoctor.parsers import ParseError

#: The suffixes of a module file: plain, or compressed as kmod reads them.
_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


def module_name(path: str) -> str | None:
    """The module a file provides (``kernel/net/bridge/br_netfilter.ko.xz`` ->
    ``br_netfilter``), or ``None`` for a file that is not a module."""
    base = path.rsplit("/", 1)[-1]
    for suffix in _SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)].replace("-", "_")
    return None


def parse_modules_dep(text: str) -> frozenset[str]:
    names: set[str] = set()
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        path, sep, _ = line.partition(":")
        name = module_name(path.strip()) if sep else None
        if name is None:
            raise ParseError("expected '<module path>: <dependencies>'", lineno)
        names.add(name)
    return frozenset(names)
