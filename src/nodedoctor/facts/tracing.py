"""Facts shared by several selections of rules, each seeing the parse problems its own facts
ran into, as if it had run alone (nodedoctor.npdcycle: one process evaluates every NPD
condition of a cycle)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from nodedoctor.facts import Facts, ParseProblem
from nodedoctor.sources.root import DEFAULT_READ_LIMIT, Root

T = TypeVar("T")


class TracingFacts(Facts):
    """:class:`Facts` whose every fact and parsed file remembers the problems recorded while
    it was made (those of the facts it used included); a later use of it, from the cache,
    counts them again for the selection using it. Inside :meth:`selection`,
    ``parse_problems`` is that selection's: what ``parse-error`` reports."""

    def __init__(
        self, root: Root, profile: str | None = None, kubernetes_version: str | None = None
    ) -> None:
        super().__init__(root, profile, kubernetes_version)
        self._windows: list[list[ParseProblem]] = []
        self._problems_of: dict[object, list[ParseProblem]] = {}

    def _count(self, problems: Iterable[ParseProblem]) -> None:
        if self._windows:
            window = self._windows[-1]
            window.extend(p for p in problems if p not in window)

    def _made(self, key: object, make: Callable[[], T]) -> T:
        self._windows.append([])
        try:
            return make()
        finally:
            found = self._windows.pop()
            self._problems_of[key] = found
            self._count(found)

    def get(self, provider: Callable[[Facts], T]) -> T:
        if provider in self._cache:
            self._count(self._problems_of.get(provider, ()))
            return self._cache[provider]  # type: ignore[return-value]
        return self._made(provider, lambda: Facts.get(self, provider))

    def parse(
        self, path: str, parser: Callable[[str], T], limit: int = DEFAULT_READ_LIMIT
    ) -> T | None:
        key = (path, parser)
        if key in self._parsed:
            self._count(self._problems_of.get(key, ()))
            return self._parsed[key]  # type: ignore[return-value]
        return self._made(key, lambda: Facts.parse(self, path, parser, limit))

    def record_problem(self, path: str, line: int | None, message: str) -> None:
        super().record_problem(path, line, message)
        self._count([ParseProblem(path, line, message)])

    @contextmanager
    def selection(self) -> Iterator[None]:
        """One selection's run: ``parse_problems`` is what its facts run into."""
        saved = self.parse_problems
        window: list[ParseProblem] = []
        self._windows.append(window)
        self.parse_problems = window
        try:
            yield
        finally:
            self._windows.pop()
            self.parse_problems = saved
