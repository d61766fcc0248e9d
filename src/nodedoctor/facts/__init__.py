"""Facts: the node, typed, each value with the evidence it came from.

Facts are gathered lazily: a rule asks ``facts.get(provider)`` and only the files that
provider needs are read, once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from nodedoctor._record import record
from nodedoctor.model import Evidence
from nodedoctor.parsers import ParseError
from nodedoctor.sources.root import DEFAULT_READ_LIMIT, Root

T = TypeVar("T")


@record
class Sourced(Generic[T]):
    """A value and where it came from."""

    value: T
    evidence: Evidence


@record
class ParseProblem:
    path: str
    line: int | None
    message: str


class Facts:
    def __init__(
        self,
        root: Root,
        profile: str | None = None,
        role: str | None = None,
        kubernetes_version: str | None = None,
    ) -> None:
        self.root = root
        self.profile = profile
        #: ``--role``: what the node is to be (``control-plane`` or ``worker``), when the user
        #: says so (facts/noderole.py).
        self.role = role
        #: ``--kubernetes-version``: what the deployer will install (facts/target.py).
        self.kubernetes_version = kubernetes_version
        self.parse_problems: list[ParseProblem] = []
        self._cache: dict[Callable[[Facts], object], object] = {}
        self._parsed: dict[tuple[str, Callable[[str], object]], object] = {}
        self._drop_ins: dict[tuple[str, str], list[str]] = {}

    @property
    def live(self) -> bool:
        return self.root.live

    @property
    def running(self) -> bool:
        """The root's command outputs describe a running node (live, or a recorded bundle).
        What runs there (PID 1, the daemons) is ``facts/processes.py``, which also reads a
        host's live procfs under ``--root`` and recorded ``/proc/<pid>/comm`` files."""
        return self.root.running

    def get(self, provider: Callable[[Facts], T]) -> T:
        if provider not in self._cache:
            self._cache[provider] = provider(self)
        return self._cache[provider]  # type: ignore[return-value]

    def read(self, path: str) -> str | None:
        return self.root.read_text(path)

    def parse(
        self, path: str, parser: Callable[[str], T], limit: int = DEFAULT_READ_LIMIT
    ) -> T | None:
        """Parse ``path`` with ``parser``; ``None`` if absent. A parse error is recorded
        (it becomes a ``parse-error`` finding) and also gives ``None``; so does a file larger
        than ``limit`` bytes (half a file would parse into a wrong answer or a false error),
        and a parser that runs out of stack or memory (the bounds of ``nodedoctor.parsers``
        should stop it first). Every outcome is kept: each file is parsed once per run,
        however many rules ask."""
        key = (path, parser)
        if key in self._parsed:
            return self._parsed[key]  # type: ignore[return-value]
        read = self.root.read(path, limit)
        result: T | None = None
        left_out = self.root.left_out(path) if read is None else None
        if left_out is not None:
            self.record_problem(path, None, f"left out of the bundle: {left_out}")
        elif read is not None and read.truncated:
            self.record_problem(path, None, f"larger than {limit // 1024} KiB; not read whole")
        elif read is not None:
            try:
                result = parser(read.text)
            except ParseError as exc:
                self.record_problem(path, exc.line, exc.message)
            except RecursionError:
                self.record_problem(path, None, "nested too deeply to parse")
            except MemoryError:
                self.record_problem(path, None, "too large to parse in the memory available")
        self._parsed[key] = result
        return result

    def drop_ins(self, directory: str, pattern: str) -> list[str]:
        """The files of drop-in directory ``directory`` whose names match ``pattern``, in
        name order, the order their readers apply them. A directory with more than
        :data:`~nodedoctor.parsers.limits.MAX_DROP_INS` of them gives none, and a parse
        problem naming the directory and the bound; so does one this copy of a node holds
        only part of (a bundle's writer left entries out): some of the drop-ins would be
        half the configuration.

        >>> import os, tempfile
        >>> base = tempfile.mkdtemp()
        >>> os.makedirs(base + "/etc/x.d")
        >>> for i in range(65):
        ...     open(f"{base}/etc/x.d/{i:02d}.conf", "w").close()
        >>> facts = Facts(Root(base))
        >>> facts.drop_ins("/etc/x.d", "*.conf"), facts.parse_problems[0].message[:45]
        ([], 'more than 64 files match *.conf: past the bou')
        >>> len(facts.drop_ins("/etc/x.d", "0*.conf")), facts.parse_failed("/etc/x.d")
        (10, True)
        """
        from nodedoctor.parsers.limits import MAX_DROP_INS

        key = (directory, pattern)
        if key not in self._drop_ins:
            paths = self.root.glob(directory, pattern)
            incomplete = self.root.incomplete_listings().get(directory.rstrip("/") or "/")
            if len(paths) > MAX_DROP_INS:
                self.record_problem(
                    directory,
                    None,
                    f"more than {MAX_DROP_INS} files match {pattern}: past the bound for a "
                    "drop-in directory, none is read",
                )
                paths = []
            elif incomplete is not None:
                self.record_problem(
                    directory,
                    None,
                    f"the bundle holds only part of this directory ({incomplete}): none of "
                    "its drop-ins is read",
                )
                paths = []
            self._drop_ins[key] = paths
        return list(self._drop_ins[key])

    def record_problem(self, path: str, line: int | None, message: str) -> None:
        problem = ParseProblem(path, line, message)
        if problem not in self.parse_problems:
            self.parse_problems.append(problem)

    def parse_failed(self, path: str) -> bool:
        return any(p.path == path for p in self.parse_problems)


def file_evidence(path: str, text: str, line: int | None = None) -> Evidence:
    return Evidence(source=path, text=text.strip(), line=line)
