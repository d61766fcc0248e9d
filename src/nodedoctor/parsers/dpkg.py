"""``/var/lib/dpkg/status``: installed Debian packages and their versions.

>>> pkgs = parse_dpkg_status('Package: containerd\\nStatus: install ok installed\\n'
...                          'Version: 1.7.12-0ubuntu4\\n\\nPackage: gone\\n'
...                          'Status: deinstall ok config-files\\nVersion: 1\\n')
>>> sorted(pkgs), pkgs['containerd'].version, pkgs['containerd'].line
(['containerd'], '1.7.12-0ubuntu4', 3)

A node has hundreds of packages and nodedoctor asks about a dozen: with ``names``, only the
paragraphs of those packages are read, field by field. A malformed line in another package's
paragraph is not seen: it would not change these answers (nor does it make dpkg's own view of
them wrong), so it is no reason to lose them.

>>> parse_dpkg_status('Package: gone\\nStatus: install ok installed\\nVersion: 1\\n\\n'
...                   'Package: runc\\nStatus: install ok installed\\nVersion: 1.1.12\\n',
...                   names=("runc", "kubelet"))
{'runc': DebPackage(name='runc', version='1.1.12', line=7, text='Version: 1.1.12')}
"""

from __future__ import annotations

import re
from collections.abc import Collection

from nodedoctor._record import record
from nodedoctor.parsers import ParseError


@record
class DebPackage:
    name: str
    version: str
    line: int
    text: str


# Patterns over the text with a "\n" put in front, each anchored on a line break: a regular
# expression that starts with a literal is searched for that literal (``^`` with MULTILINE
# would be tried at every character).
_BLANK = re.compile(r"\n[^\S\n]*(?=\n|\Z)")
#: Line breaks ``str.splitlines`` knows besides ``\n``: with them, lines are counted its way.
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def parse_dpkg_status(text: str, names: Collection[str] | None = None) -> dict[str, DebPackage]:
    """Installed packages by name; with ``names``, only those packages' paragraphs are read."""
    if names is None:
        return _parse_paragraphs(text, 1)
    if any(c in text for c in _OTHER_BREAKS):
        return _named_line_by_line(text, names)
    padded = "\n" + text  # offsets in ``padded`` are ``text``'s plus one
    wanted = "|".join(re.escape(n) for n in sorted(names))
    out: dict[str, DebPackage] = {}
    # Newlines before each paragraph, counted on from the previous one (paragraph starts only
    # grow: matches come in order).
    counted, lines_before = 0, 0
    for m in re.finditer(rf"\nPackage:[^\S\n]*(?:{wanted})[^\S\n]*(?=\n|\Z)", padded):
        start = m.start()  # at the "\n" before the line: in ``text``, the line's start
        while start > 0:  # back to the paragraph's first line
            previous = text.rfind("\n", 0, start - 1) + 1
            if not text[previous : start - 1].strip():
                break
            start = previous
        blank = _BLANK.search(padded, m.end())
        end = blank.start() if blank else len(text)
        lines_before += text.count("\n", counted, start)
        counted = start
        out.update(_parse_paragraphs(text[start:end], lines_before + 1))
    return out


def _named_line_by_line(text: str, names: Collection[str]) -> dict[str, DebPackage]:
    """:func:`parse_dpkg_status` with ``names``, paragraph by paragraph over ``splitlines``
    (what the searching reader does where ``str.splitlines`` breaks lines at more than ``\n``)."""
    out: dict[str, DebPackage] = {}
    paragraph: list[str] = []
    first = 1
    for lineno, line in enumerate([*text.splitlines(), ""], 1):
        if line.strip():
            paragraph.append(line)
            continue
        if any(_package_line(item, names) for item in paragraph):
            out.update(_parse_paragraphs("\n".join(paragraph), first))
        paragraph, first = [], lineno + 1
    return out


def _package_line(line: str, names: Collection[str]) -> bool:
    key, sep, value = line.partition(":")
    return key == "Package" and bool(sep) and value.strip() in names


def _parse_paragraphs(text: str, first_line: int) -> dict[str, DebPackage]:
    out: dict[str, DebPackage] = {}
    fields: dict[str, tuple[str, int, str]] = {}

    def flush() -> None:
        name = fields.get("Package")
        status = fields.get("Status")
        version = fields.get("Version")
        if name and version and status and status[0].endswith(" installed"):
            out[name[0]] = DebPackage(name[0], version[0], version[1], version[2])
        fields.clear()

    for lineno, line in enumerate(text.splitlines(), first_line):
        if not line.strip():
            flush()
            continue
        if line[0] in " \t":
            continue  # continuation of a multi-line field (Description, Conffiles)
        key, sep, value = line.partition(":")
        if not sep:
            raise ParseError(f"not a 'Field: value' line: {line[:60]!r}", lineno)
        fields[key] = (value.strip(), lineno, line)
    flush()
    return out
