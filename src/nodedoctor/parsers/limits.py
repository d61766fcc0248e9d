"""The bounds the structured-format parsers keep, and the scans that enforce them before a
parser that recurses (PyYAML's composer, ``json``, ``tomllib``, tomlkit) sees the text.

Each scan is linear and stops at the first breach, which is a :class:`LimitError` naming the
bound (the table of every parser's bounds is in the package docstring):

>>> check_json_depth('{"a": [1, {"b": []}]}')
>>> check_json_depth("[" * 65 + "]" * 65)
Traceback (most recent call last):
...
nodedoctor.parsers.LimitError: line 1: nested deeper than 64
>>> check_toml_bounds('[plugins."io.containerd.grpc.v1.cri"]\\nx = 1.5\\n')
>>> check_toml_bounds("version = 2\\n" + ".".join(["k"] * 40) + " = 1\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.LimitError: line 2: dotted key with more than 32 parts
>>> check_size("x" * (MAX_CONFIG_CHARS + 1))
Traceback (most recent call last):
...
nodedoctor.parsers.LimitError: larger than 256 KiB, the bound for a configuration file
"""

from __future__ import annotations

import re

from nodedoctor.parsers import LimitError

#: Characters of a YAML, TOML or JSON configuration file (kubelet, k3s, cloud-init,
#: containerd, CRI-O, Docker): the largest real ones (CRI-O's commented default) are ~50 KB,
#: and PyYAML without libyaml or tomlkit (Python 3.9/3.10) parse 256 KiB in about a second.
MAX_CONFIG_CHARS = 256 * 1024
#: Mappings, sequences, tables and arrays inside one another; real files nest under 10.
MAX_DEPTH = 64
#: Parts of one TOML dotted key or table name (containerd's longest is 8); tomllib's time
#: grows with the square of a key's parts.
MAX_KEY_PARTS = 32
#: TOML table headers in one file (containerd's default config has about 60).
MAX_TABLES = 10_000
#: Nodes that YAML aliases may add once expanded; kubelet, k3s and cloud-init configs use
#: few or none, and an alias bomb of 1 KB expands to billions.
MAX_ALIAS_NODES = 10_000
#: Files a drop-in directory may give its reader (``kubelet.service.d``, ``crio.conf.d``,
#: containerd's import globs, the kubelet's ``--config-dir``, k3s's ``config.yaml.d``,
#: ``cloud.cfg.d``, ``system.conf.d``, ``grub.d``, ``/boot/loader/entries``): real nodes
#: have under 20. Each file is bounded above; this bounds a directory to 64 of them. Past
#: it, none is read (some of them would be half the configuration): a parse error names the
#: directory and the bound (``Facts.drop_ins``).
MAX_DROP_INS = 64


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def check_size(text: str, limit: int = MAX_CONFIG_CHARS) -> None:
    """A :class:`LimitError` when ``text`` is longer than ``limit`` characters."""
    if len(text) > limit:
        raise LimitError(f"larger than {limit // 1024} KiB, the bound for a configuration file")


_JSON_MARK = re.compile(r'[\[\]{}"]')
#: The rest of a JSON string after its opening quote (the unrolled form: linear, no
#: backtracking).
_JSON_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def check_json_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """A :class:`LimitError` with the line where ``text`` nests JSON arrays and objects
    deeper than ``limit`` (``json`` recurses once per level and fails with RecursionError
    near a thousand). Brackets inside strings do not count; malformed JSON is left to
    ``json`` to word."""
    depth = 0
    pos = 0
    while True:
        m = _JSON_MARK.search(text, pos)
        if m is None:
            return
        mark = m.group()
        pos = m.end()
        if mark == '"':
            rest = _JSON_STRING_REST.match(text, pos)
            if rest is None:
                return
            pos = rest.end()
        elif mark in "[{":
            depth += 1
            if depth > limit:
                raise LimitError(f"nested deeper than {limit}", _line_of(text, m.start()))
        else:
            depth = max(depth - 1, 0)


_TOML_MARK = re.compile(r"""["'#\[\]{}.=,\n]""")
_TOML_BASIC_REST = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_TOML_ML_BASIC_REST = re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.S)


def check_toml_bounds(
    text: str,
    *,
    depth_limit: int = MAX_DEPTH,
    parts_limit: int = MAX_KEY_PARTS,
    tables_limit: int = MAX_TABLES,
) -> None:
    """A :class:`LimitError` with the line where ``text`` has a dotted key or table name of
    more than ``parts_limit`` parts, arrays and inline tables nested deeper than
    ``depth_limit``, or more than ``tables_limit`` table headers. Strings and comments are
    skipped; malformed TOML is left to the TOML parser to word."""
    depth = 0
    dots = 0
    tables = 0
    line_start = 0
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOML_MARK.search(text, pos)
        if m is None:
            return
        mark = m.group()
        start = m.start()
        pos = m.end()
        if mark == "\n":
            dots = 0
            line_start = pos
        elif mark == "#":
            end = text.find("\n", pos)
            pos = n if end < 0 else end
        elif mark == '"':
            if text.startswith('""', pos):
                rest = _TOML_ML_BASIC_REST.match(text, pos + 2)
            else:
                rest = _TOML_BASIC_REST.match(text, pos)
            pos = n if rest is None else rest.end()
        elif mark == "'":
            quote = "'''" if text.startswith("''", pos) else "'"
            end = text.find(quote, pos + len(quote) - 1)
            pos = n if end < 0 else end + len(quote)
        elif mark == ".":
            dots += 1
            if dots >= parts_limit:
                raise LimitError(
                    f"dotted key with more than {parts_limit} parts", _line_of(text, start)
                )
        else:
            dots = 0
            if mark in "[{":
                if mark == "[" and depth == 0 and not text[line_start:start].strip():
                    tables += 1
                    if tables > tables_limit:
                        raise LimitError(f"more than {tables_limit} tables", _line_of(text, start))
                depth += 1
                if depth > depth_limit:
                    raise LimitError(f"nested deeper than {depth_limit}", _line_of(text, start))
            elif mark in "]}":
                depth = max(depth - 1, 0)
