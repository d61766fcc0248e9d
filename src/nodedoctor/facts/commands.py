"""The programs on the node's ``PATH``, looked up inside the root (nothing is run).

kubeadm looks its commands up with Go's ``exec.LookPath`` in its own ``PATH``; a node's
programs live in :data:`PATH_DIRS` (a root session's ``PATH`` on every distribution, merged
``/usr`` or not). A program counts when its file, after its links inside the root, exists: a
link left dangling (``/usr/sbin/iptables`` -> ``/etc/alternatives/iptables`` with the
alternative removed) does not.

A root tells that a program is *missing* only when it holds the node's programs at all: live,
a host seen from a pod, a mounted disk image. A tree of configuration files (a test fixture, a
bundle, which records only what the checks read) does not, so every one of
:data:`CORE_PROGRAMS` (coreutils' or busybox's, on any Linux) must be found first; else
nothing is said missing.

``iptables`` is also followed to the program it runs: ``xtables-nft-multi`` (the nf_tables
backend, ``iptables-nft``) or ``xtables-legacy-multi`` (``iptables-legacy``).
"""

from __future__ import annotations

import posixpath

from nodedoctor._record import record
from nodedoctor.facts import Facts
from nodedoctor.i18n import _
from nodedoctor.model import Evidence

PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
CORE_PROGRAMS = ("sh", "ls", "cat", "cp", "mv", "rm", "mkdir")
NFT_BACKEND = "nf_tables"
LEGACY_BACKEND = "legacy"


@record
class NodePrograms:
    #: Whether this root holds the node's programs (``complete``), and why not.
    complete: bool
    incomplete_reason: str | None = None

    def evidence_missing(self, name: str) -> Evidence:
        return Evidence(":".join(PATH_DIRS), f"no {name} in any of these directories")


def _follow(facts: Facts, path: str) -> str:
    """The file a chain of links at ``path`` ends at, read link by link (so that ``collect``
    records each one), within the root."""
    for _unused in range(16):
        target = facts.root.readlink(path)
        if target is None:
            return path
        path = (
            target
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        )
    return path


def _present(facts: Facts, path: str) -> bool:
    """A file at ``path`` once its links are followed (each read through the root, so that a
    bundle keeps them)."""
    if not facts.root.exists(path):
        return False
    final = _follow(facts, path)
    return facts.root.exists(final) and not facts.root.is_dir(final)


def find_program(facts: Facts, name: str) -> str | None:
    """The node path where ``name`` is found first along :data:`PATH_DIRS`, or ``None``."""
    for directory in PATH_DIRS:
        path = f"{directory}/{name}"
        if _present(facts, path):
            return path
    return None


def node_programs(facts: Facts) -> NodePrograms:
    if facts.live:
        return NodePrograms(True)
    missing = [name for name in CORE_PROGRAMS if find_program(facts, name) is None]
    if missing:
        return NodePrograms(
            False,
            _(
                "this root does not hold the node's programs (no {programs} in /usr/bin, "
                "/bin ...): a tree of files, not a whole system"
            ).format(programs=", ".join(missing)),
        )
    return NodePrograms(True)


@record
class IptablesBackend:
    #: Where ``iptables`` is, and what it runs.
    path: str
    program: str
    #: :data:`NFT_BACKEND`, :data:`LEGACY_BACKEND` or ``None`` (another build: iptables
    #: before 1.8, a static binary).
    backend: str | None

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.path, f"runs {self.program}")


def iptables_backend(facts: Facts) -> IptablesBackend | None:
    path = find_program(facts, "iptables")
    if path is None:
        return None
    program = posixpath.basename(_follow(facts, path))
    backend = None
    if program.startswith("xtables-nft") or program == "iptables-nft":
        backend = NFT_BACKEND
    elif program.startswith("xtables-legacy") or program == "iptables-legacy":
        backend = LEGACY_BACKEND
    return IptablesBackend(path, program, backend)
