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
>>> cfg.header
'Linux/arm64 6.12.25 Kernel Configuration'
"""

from __future__ import annotations

import re

from nodedoctor._record import record
from nodedoctor.parsers import ParseError

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
_HEADER = re.compile(r"^# (Linux/\S+ .*Kernel Configuration)$")


@record
class KconfigOption:
    name: str
    #: ``y``, ``m``, ``n`` (written "is not set"), or the text of a string/number option.
    value: str
    line: int
    text: str


@record
class KernelConfig:
    options: dict[str, KconfigOption]
    #: The "Linux/<arch> <version> Kernel Configuration" banner, when present.
    header: str | None

    def enabled(self, name: str) -> bool | None:
        """``True`` if built in or as a module, ``False`` if "is not set", ``None`` if the
        option is not in this configuration at all (unknown to this kernel, or hidden)."""
        option = self.options.get(name)
        if option is None:
            return None
        return option.value in ("y", "m")


def parse_kconfig(text: str) -> KernelConfig:
    options: dict[str, KconfigOption] = {}
    header: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = _NOT_SET.match(line)
            if m:
                options[m.group(1)] = KconfigOption(m.group(1), "n", lineno, raw)
            elif header is None:
                h = _HEADER.match(line)
                header = h.group(1) if h else None
            continue
        m = _SET.match(line)
        if not m:
            raise ParseError("expected CONFIG_NAME=value or '# CONFIG_NAME is not set'", lineno)
        value = m.group(2)
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        options[m.group(1)] = KconfigOption(m.group(1), value, lineno, raw)
    return KernelConfig(options, header)
