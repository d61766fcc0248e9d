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

A node's config has ~10,000 lines and is read on every live check: the file is scanned by
three regular expressions (the option lines, the "is not set" lines, any other line), and an
option becomes a :class:`KconfigOption` record, with its line, when it is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

_HEADER = re.compile(r"^# (Linux/\S+ (\S+) .*Kernel Configuration)[ \t\r]*$", re.M)
_SET = re.compile(r"^[ \t]*(CONFIG_[A-Za-z0-9_]+)=(.*?)[ \t\r]*$", re.M)
_NOT_SET = re.compile(r"^[ \t]*# (CONFIG_[A-Za-z0-9_]+) is not set[ \t\r]*$", re.M)
#: A line that is neither an option, a comment nor blank.
_BAD = re.compile(r"^(?![ \t]*(?:CONFIG_[A-Za-z0-9_]+=|#|[ \t\r]*$)).+", re.M)


@record
class KconfigOption:
    name: str
    #: ``y``, ``m``, ``n`` (written "is not set"), or the text of a string/number option.
    value: str
    line: int
    text: str


class KconfigOptions(Mapping[str, KconfigOption]):
    """Option name -> :class:`KconfigOption`; the line and its number are looked up when an
    option is asked for (a check asks for ~60 of a config's ~9,000)."""

    __slots__ = ("_text", "_values")

    def __init__(self, text: str, values: dict[str, str]) -> None:
        self._text = text
        self._values = values

    def __getitem__(self, name: str) -> KconfigOption:
        value = self.value(name)
        if value is None:
            raise KeyError(name)
        where = re.compile(rf"^[ \t]*(?:# )?{re.escape(name)}(?:=| is not set)", re.M)
        m = where.search(self._text)
        start = m.start() if m else 0
        end = self._text.find("\n", start)
        line = self._text[start : end if end >= 0 else len(self._text)].rstrip("\r")
        return KconfigOption(name, value, self._text.count("\n", 0, start) + 1, line)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def value(self, name: str) -> str | None:
        """The option's value (``n`` when "is not set"), ``None`` when it is not named."""
        value = self._values.get(name)
        if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return value


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


def parse_kconfig(text: str) -> KernelConfig:
    bad = _BAD.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ParseError("expected CONFIG_NAME=value or '# CONFIG_NAME is not set'", line)
    values = dict.fromkeys(_NOT_SET.findall(text), "n")
    values.update(_SET.findall(text))
    h = _HEADER.search(text)
    return KernelConfig(KconfigOptions(text, values), h.group(1) if h else None, h and h.group(2))
