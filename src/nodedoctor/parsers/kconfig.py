"""A kernel build configuration: ``/proc/config.gz`` (decompressed) or ``/boot/config-<release>``.

Each visible option is either set (``CONFIG_X=y``, ``=m``, ``="text"``, ``=123``) or written as
``# CONFIG_X is not set``; any other ``#`` line is a comment.

>>> cfg = parse_kconfig('#\\n# Linux/arm64 6.12.25 Kernel Configuration\\n#\\n'
...                     'CONFIG_CGROUPS=y\\nCONFIG_MEMCG=y\\n# CONFIG_MEMCG_V1 is not set\\n'
...                     'CONFIG_LOCALVERSION="-v8"\\n')
>>> cfg.options['CONFIG_MEMCG'].value, cfg.options['CONFIG_MEMCG_V1'].value
('y', 'n')
>>> cfg.enabled('CONFIG_MEMCG'), cfg.enabled('CONFIG_MEMCG_V1'), cfg.enabled('CONFIG_NOPE')
(True, False, None)
>>> cfg.options['CONFIG_LOCALVERSION'].value, cfg.options['CONFIG_MEMCG_V1'].line
('-v8', 6)
>>> cfg.header, cfg.version
('Linux/arm64 6.12.25 Kernel Configuration', '6.12.25')

A configuration ``make`` wrote (a kernel's ``.config``, what distributions install as
``/boot/config-<release>``) carries that banner and lists every option whose dependencies are
met; an option it does not name is not built. A ``defconfig`` (``arch/*/configs/*_defconfig``,
``make savedefconfig``) has no banner and names only what differs from the defaults, so an
option it does not name may well be built: :attr:`KernelConfig.complete` tells them apart.

A node's config has ~10,000 lines and is read on every live check: options are kept as the
raw ``(value, line, text)`` of their line and become :class:`KconfigOption` records when asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

_HEADER = re.compile(r"^# (Linux/\S+ (\S+) .*Kernel Configuration)$")
_NOT_SET_TAIL = " is not set"


@record
class KconfigOption:
    name: str
    #: ``y``, ``m``, ``n`` (written "is not set"), or the text of a string/number option.
    value: str
    line: int
    text: str


class KconfigOptions(Mapping[str, KconfigOption]):
    """Option name -> :class:`KconfigOption`, built from its line when looked up."""

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[str, tuple[str, int, str]]) -> None:
        self._raw = raw

    def __getitem__(self, name: str) -> KconfigOption:
        value, line, text = self._raw[name]
        return KconfigOption(name, value, line, text)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def value(self, name: str) -> str | None:
        """The option's value (``n`` when "is not set"), ``None`` when it is not named."""
        raw = self._raw.get(name)
        return None if raw is None else raw[0]


@record
class KernelConfig:
    options: KconfigOptions
    #: The "Linux/<arch> <version> Kernel Configuration" banner, when present.
    header: str | None
    #: The kernel version of the banner (``6.1.0``, ``6.12.25``), when present.
    version: str | None = None

    @property
    def complete(self) -> bool:
        """Written by ``make`` (it has the banner): an option it does not name is not built."""
        return self.header is not None

    def enabled(self, name: str) -> bool | None:
        """``True`` if built in or as a module, ``False`` if "is not set", ``None`` if the
        option is not in this configuration at all (unknown to this kernel, or hidden)."""
        value = self.options.value(name)
        if value is None:
            return None
        return value in ("y", "m")


def _valid_name(name: str) -> bool:
    rest = name[7:]
    return bool(rest) and rest.isascii() and rest.replace("_", "a").isalnum()


def parse_kconfig(text: str) -> KernelConfig:
    raw: dict[str, tuple[str, int, str]] = {}
    header: str | None = None
    version: str | None = None
    for lineno, raw_line in enumerate(text.split("\n"), 1):
        line = raw_line
        if not line.startswith("CONFIG_"):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                if stripped.startswith("# CONFIG_") and stripped.endswith(_NOT_SET_TAIL):
                    name = stripped[2 : -len(_NOT_SET_TAIL)]
                    if _valid_name(name):
                        raw[name] = ("n", lineno, line)
                elif header is None:
                    h = _HEADER.match(stripped)
                    if h:
                        header, version = h.group(1), h.group(2)
                continue
            line = stripped  # an indented option line (never written by make)
        name, sep, value = line.partition("=")
        if not sep or not name.startswith("CONFIG_") or not _valid_name(name):
            raise ParseError("expected CONFIG_NAME=value or '# CONFIG_NAME is not set'", lineno)
        value = value.rstrip()
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        raw[name] = (value, lineno, line)
    return KernelConfig(KconfigOptions(raw), header, version)
