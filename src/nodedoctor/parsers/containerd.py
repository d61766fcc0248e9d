"""containerd's ``config.toml`` (any config version), with the line of every table and key.

tomlkit gives the values but no line numbers, so a small scanner walks the text, tracks the
current ``[table]`` header and records where each table header and each key is written
(quoted keys in both quote styles, dotted keys; a key inside an inline table gets the line of
the key that holds the inline table).

>>> cfg = parse_containerd_config('''version = 2
... [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
...   SystemdCgroup = false
... ''')
>>> cfg.version
2
>>> path = ("plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options")
>>> cfg.get((*path, "SystemdCgroup"))
False
>>> cfg.locate((*path, "SystemdCgroup"))
TomlLine(line=3, text='SystemdCgroup = false')
>>> cfg.locate(path).line
2
>>> parse_containerd_config("version = 2\\n[plugins\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.ParseError: line 2: not valid TOML: Unexpected character: '\\n' at line 2 col 8

k3s templates are Go templates; :func:`render_k3s_template` blanks the actions (keeping line
numbers) and substitutes the values k3s would:

>>> text, base = render_k3s_template('{{ template "base" . }}\\n[plugins.x.options]\\n'
...     '  SystemdCgroup = {{ .SystemdCgroup }}\\n', {"SystemdCgroup": "true"})
>>> base, text.splitlines()
(1, ['', '[plugins.x.options]', '  SystemdCgroup = true'])
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

from nodedoctor._record import field, record
from nodedoctor.parsers import LimitError, ParseError
from nodedoctor.parsers.limits import MAX_DEPTH, check_size, check_toml_bounds

Path = tuple[str, ...]
MISSING: Any = object()


@record
class TomlLine:
    line: int
    text: str


@record
class ContainerdConfigFile:
    """One TOML file: its plain values, and where each table and key is written."""

    data: dict[str, Any]
    #: table or key path -> its header or key line (first occurrence).
    lines: dict[Path, TomlLine] = field(default_factory=dict)
    #: Table paths that have a ``[header]`` of their own.
    headers: frozenset[Path] = frozenset()

    @property
    def version(self) -> int | None:
        """The ``version`` line's value; ``None`` when the file has none (version 1)."""
        v = self.data.get("version")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def get(self, path: Path) -> Any:
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
        return node

    def locate(self, path: Path) -> TomlLine | None:
        """Where ``path`` is written: its own line, else the nearest enclosing one."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


# --------------------------------------------------------------------------------------
# Keys and the line scanner

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


#: One part of a dotted key with no escape in it (nearly every key), and the blanks around it.
_KEY_PART = re.compile(r"""[ \t]*([A-Za-z0-9_-]+|"[^"\\]*"|'[^']*')[ \t]*""")


def split_key(text: str) -> tuple[Path, int]:
    """A dotted key at the start of ``text``: its parts and where it ends.

    >>> split_key('plugins."io.containerd.grpc.v1.cri".containerd = 1')
    (('plugins', 'io.containerd.grpc.v1.cri', 'containerd'), 47)
    >>> split_key("plugins.'io.containerd.cri.v1.runtime' ]")[0]
    ('plugins', 'io.containerd.cri.v1.runtime')
    >>> split_key('"a\\\\"b" = 1')[0]
    ('a"b',)
    """
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        m = _KEY_PART.match(text, i)
        if m is None:  # an escape, an unclosed quote, a dangling dot: read it char by char
            return _split_key_escaped(text)
        part = m.group(1)
        parts.append(part[1:-1] if part[0] in "\"'" else part)
        i = m.end()
        if i == n or text[i] != ".":
            return tuple(parts), i
        i += 1


def _split_key_escaped(text: str) -> tuple[Path, int]:
    """:func:`split_key` character by character: escapes, unclosed quotes, a dangling dot."""
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        c = text[i]
        if c == '"':
            i += 1
            buf: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    buf.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                    i += 2
                else:
                    buf.append(text[i])
                    i += 1
            parts.append("".join(buf))
            i += 1
        elif c == "'":
            end = text.find("'", i + 1)
            end = n if end < 0 else end
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                break
            parts.append(m.group(0))
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ".":
            i += 1
            continue
        break
    return tuple(parts), i


def _scan_value(value: str, state: list[Any]) -> None:
    """Track open brackets and multi-line strings through a value (``state`` = [depth, quote])."""
    i, n = 0, len(value)
    while i < n:
        quote = state[1]
        if quote:
            end = value.find(quote, i)
            if end < 0:
                return
            state[1] = None
            i = end + len(quote)
            continue
        c = value[i]
        if c == "#":
            return
        if value.startswith('"""', i) or value.startswith("'''", i):
            state[1] = value[i : i + 3]
            i += 3
            continue
        if c == '"':
            j = i + 1
            while j < n and value[j] != '"':
                j += 2 if value[j] == "\\" else 1
            i = j + 1
            continue
        if c == "'":
            j = value.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c in "[{":
            state[0] += 1
        elif c in "]}":
            state[0] -= 1
        i += 1


def _may_continue(value: str) -> bool:
    """Only brackets and triple quotes carry a value over to the next line."""
    return any(mark in value for mark in ("[", "]", "{", "}", '"""', "'''"))


def locate_lines(text: str) -> tuple[dict[Path, TomlLine], frozenset[Path]]:
    """Where each table header and key is written (1-based lines)."""
    lines: dict[Path, TomlLine] = {}
    headers: set[Path] = set()
    table: Path = ()
    state: list[Any] = [0, None]  # bracket depth, open multi-line string quote
    for lineno, raw in enumerate(text.splitlines(), 1):
        if state[1] or state[0] > 0:
            _scan_value(raw, state)
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped[0] == "[":
            inner = stripped[2:] if stripped.startswith("[[") else stripped[1:]
            path, _ = split_key(inner)
            table = path
            headers.add(path)
            where = TomlLine(lineno, stripped)
            for i in range(1, len(path) + 1):  # implicit super-tables: their first header
                if path[:i] not in lines:
                    lines[path[:i]] = where
            continue
        key, end = split_key(stripped)
        if not key or end >= len(stripped) or stripped[end] != "=":
            continue
        full = table + key
        where = TomlLine(lineno, stripped)
        for i in range(len(table) + 1, len(full) + 1):
            if full[:i] not in lines:
                lines[full[:i]] = where
        value = stripped[end + 1 :]
        if _may_continue(value):
            _scan_value(value, state)
    return lines, frozenset(headers)


def _tomllib_loads(text: str) -> dict[str, Any] | None:
    """The values by the standard library's reader (Python 3.11+; about 25 times faster than
    tomlkit on containerd's default config, and tomlkit's import alone costs as much as a
    whole check), or ``None`` when there is none or it refuses the text: tomlkit then decides,
    so an error is always worded by tomlkit, whichever Python runs."""
    try:
        # Imported by name: the module is 3.11+, and the code must still run on 3.9.
        tomllib: Any = importlib.import_module("tomllib")
    except ImportError:
        return None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None
    return data


def parse_containerd_config(text: str) -> ContainerdConfigFile:
    """A TOML file, within the bounds of :mod:`nodedoctor.parsers.limits` (its size, dotted
    keys, tables, nesting), checked before a TOML parser sees it."""
    check_size(text)
    check_toml_bounds(text)
    data = _tomllib_loads(text)
    if data is None:
        import tomlkit  # the format-preserving parser: start-up cost, only when needed
        from tomlkit.exceptions import ParseError as TomlParseError
        from tomlkit.exceptions import TOMLKitError

        try:
            doc = tomlkit.parse(text)
        except TomlParseError as exc:
            raise ParseError(f"not valid TOML: {exc}", exc.line) from None
        except (TOMLKitError, ValueError, KeyError) as exc:
            raise ParseError(f"not valid TOML: {exc}") from None
        except RecursionError:  # only a backstop: nesting is bounded above
            raise LimitError(f"nested deeper than {MAX_DEPTH}") from None
        data = doc.unwrap()
    lines, headers = locate_lines(text)
    return ContainerdConfigFile(data, lines, headers)


# --------------------------------------------------------------------------------------
# k3s Go templates

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_TEMPLATE_BASE = re.compile(r'^template\s+"base"')


def render_k3s_template(text: str, values: Mapping[str, str]) -> tuple[str, int | None]:
    """The TOML a k3s ``config.toml.tmpl`` gives, as far as it can be told without k3s.

    Lines holding only actions (``{{ template "base" . }}``, ``{{ if ... }}``, ``{{ end }}``)
    become empty (both branches of a condition are kept); ``{{ .Name }}`` is replaced by
    ``values[Name]`` when given, else left as a string. Returns the text and the line that
    includes k3s's own ``base`` template (``None`` when it does not).
    """
    out: list[str] = []
    base_line: int | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        actions = _ACTION.findall(line)
        if base_line is None and any(_TEMPLATE_BASE.match(a) for a in actions):
            base_line = lineno
        if actions and not _ACTION.sub("", line).strip():
            out.append("")
            continue

        def substitute(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith(".") and expr[1:] in values:
                return values[expr[1:]]
            return m.group(0)

        out.append(_ACTION.sub(substitute, line))
    return "\n".join(out) + ("\n" if text.endswith("\n") else ""), base_line
