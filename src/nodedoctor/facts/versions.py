"""Versions, as packagers spell them, compared as the upstream projects number them.

>>> Version.parse("1:1.7.19+really1.7.12-0ubuntu4.2").release
(1, 7, 12)
>>> Version.parse("1.6.20~ds1-1+deb12u3").release
(1, 6, 20)
>>> Version.parse("v1.29.15").release, Version.parse("Kubernetes v1.35.0").release
((1, 29, 15), (1, 35, 0))
>>> Version.parse("v1.31.6+k3s1") >= (1, 31, 6)
True
>>> Version.parse("4.0.1really4.0.0-beta3-0ubuntu0.1").release
(4, 0, 0)
>>> Version.parse("unknown") is None
True
"""

from __future__ import annotations

import re

from nodedoctor._record import record

_NUM = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@record
class Version:
    raw: str
    release: tuple[int, int, int]

    @classmethod
    def parse(cls, raw: str) -> Version | None:
        text = raw.strip()
        # Ubuntu/Debian roll back upstream versions as "NEW+reallyOLD": OLD is what runs.
        if "really" in text:
            text = text.rsplit("really", 1)[1]
        text = re.sub(r"^\d+:", "", text)  # Debian epoch
        m = _NUM.search(text)
        if not m:
            return None
        major, minor, patch = m.groups()
        return cls(raw.strip(), (int(major), int(minor), int(patch or 0)))

    def _key(self, other: object) -> tuple[int, ...]:
        if isinstance(other, Version):
            return other.release
        if isinstance(other, tuple):
            return tuple(other) + (0,) * (3 - len(other))
        raise TypeError(other)

    def __ge__(self, other: object) -> bool:
        return self.release >= self._key(other)

    def __lt__(self, other: object) -> bool:
        return self.release < self._key(other)

    def __gt__(self, other: object) -> bool:
        return self.release > self._key(other)

    def __le__(self, other: object) -> bool:
        return self.release <= self._key(other)

    @property
    def minor(self) -> tuple[int, int]:
        return self.release[:2]

    def __str__(self) -> str:
        return self.raw
