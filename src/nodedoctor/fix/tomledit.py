"""Format-preserving TOML edits with tomlkit: comments, order, quoting and layout survive.

Every edit is verified by re-parsing: the result must equal the original document with
exactly the intended change, or :class:`~nodedoctor.fix.textedit.EditError` is raised.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Item, Key, KeyType, SingleKey, Table
from tomlkit.toml_document import TOMLDocument

from nodedoctor.fix.textedit import EditError
from nodedoctor.i18n import _


def parse(text: str) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise EditError(_("not valid TOML: {error}").format(error=exc)) from None
    except (ValueError, KeyError) as exc:  # tomlkit raises these on some malformed files
        raise EditError(_("not valid TOML: {error}").format(error=exc)) from None


def plain(doc: Any) -> Any:
    """The document as plain Python values (for comparing before and after)."""
    return copy.deepcopy(doc.unwrap()) if hasattr(doc, "unwrap") else doc


def _with(data: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return out


def _key(name: str, literal: bool) -> Key:
    if literal and "." in name and "'" not in name:
        return SingleKey(name, t=KeyType.Literal)
    return SingleKey(name)


def _sibling_indent(table: Any) -> str | None:
    body = getattr(getattr(table, "value", None), "body", None)
    if not body:
        return None
    for key, item in reversed(body):
        if key is not None and not isinstance(item, (Table, AoT)):
            return str(item.trivia.indent)
    return None


def _header_indent(table: Any) -> str | None:
    trivia = getattr(table, "trivia", None)
    return None if trivia is None else str(trivia.indent)


def _insert_after_last_key(node: Any, key: str, item: Item) -> None:
    """Put ``key`` right after the table's last key/value, so that comments and blank lines
    that close the table (often the next table's heading comment) stay where they are."""
    container = node.value if isinstance(node, Table) else node
    body = getattr(container, "body", [])
    last = max(
        (i for i, (k, v) in enumerate(body) if k is not None and not isinstance(v, (Table, AoT))),
        default=None,
    )
    if last is None or last == len(body) - 1:
        if isinstance(node, Table):
            node.raw_append(key, item)
        else:
            node.append(key, item)
        return
    container._insert_at(last + 1, key, item)


def set_key(
    text: str, table_path: Sequence[str], key: str, value: Any, literal_keys: bool = False
) -> str:
    """Set ``key = value`` in the table at ``table_path``, creating tables when absent.

    ``literal_keys``: quote new dotted keys with single quotes (containerd v3 style).

    >>> print(set_key('[a]\\n  x = 1 # keep\\n', ["a"], "y", True), end="")
    [a]
      x = 1 # keep
      y = true
    >>> print(set_key('[a]\\n  y = false # keep\\n', ["a"], "y", True), end="")
    [a]
      y = true # keep
    """
    doc = parse(text)
    before = plain(doc)
    node: Any = doc
    parent_indent: str | None = None
    created: Table | None = None
    for i, part in enumerate(table_path):
        if part in node:
            child = node[part]
            if isinstance(child, AoT) or not hasattr(child, "__setitem__"):
                raise EditError(
                    _("{table} is not a table").format(table=".".join(table_path[: i + 1]))
                )
            node = child
            if isinstance(node, Table) and not node.is_super_table():
                parent_indent = _header_indent(node)
            continue
        last = i == len(table_path) - 1
        new = tomlkit.table(is_super_table=not last)
        if last:
            new.trivia.indent = "" if parent_indent is None else parent_indent + "  "
            created = new
        if isinstance(node, Table):
            node.raw_append(_key(part, literal_keys), new)
        else:
            node.append(_key(part, literal_keys), new)
        node = node[part]
    if key in node:
        existing = node[key]
        if isinstance(existing, Item):
            trivia = existing.trivia
            replacement = tomlkit.item(value)
            replacement.trivia.indent = trivia.indent
            replacement.trivia.comment_ws = trivia.comment_ws
            replacement.trivia.comment = trivia.comment
            replacement.trivia.trail = trivia.trail
            node[key] = replacement
        else:
            node[key] = value
    else:
        item = tomlkit.item(value)
        indent = _sibling_indent(node)
        if indent is None:
            indent = (_header_indent(node) or "") + "  "
        item.trivia.indent = indent
        _insert_after_last_key(node, key, item)
    if created is not None:
        created.raw_append(None, tomlkit.nl())
    out = tomlkit.dumps(doc)
    if not out.endswith("\n"):
        out += "\n"
    if created is not None and out.endswith("\n\n") and not text.endswith("\n\n"):
        out = out.rstrip("\n") + "\n"
    after = plain(parse(out))
    if after != _with(before, [*table_path, key], value):
        raise EditError(
            _("setting {key} would change other settings").format(key=".".join([*table_path, key]))
        )
    return out


def remove_from_array(text: str, key_path: Sequence[str], values: Sequence[str]) -> str:
    """Remove ``values`` from the string array at ``key_path`` (e.g. ``disabled_plugins``).

    >>> remove_from_array('disabled_plugins = ["cri"]  # docker\\n', ["disabled_plugins"],
    ...                   ["cri"])
    'disabled_plugins = []  # docker\\n'
    """
    doc = parse(text)
    before = plain(doc)
    node: Any = doc
    for part in key_path[:-1]:
        if part not in node:
            return text
        node = node[part]
    if key_path[-1] not in node:
        return text
    array = node[key_path[-1]]
    if not isinstance(array, list):
        raise EditError(_("{key} is not an array").format(key=".".join(key_path)))
    indexes = [i for i, v in enumerate(array) if v in values]
    if not indexes:
        return text
    for i in reversed(indexes):
        del array[i]
    out = tomlkit.dumps(doc)
    expected_list = [v for v in _get(before, key_path) if v not in values]
    if plain(parse(out)) != _with(before, key_path, expected_list):
        raise EditError(
            _("editing {key} would change other settings").format(key=".".join(key_path))
        )
    return out


def _get(data: dict[str, Any], path: Sequence[str]) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def insert_top_key(text: str, key: str, value: Any) -> str:
    """Put a top-level ``key = value`` before the first setting (after leading comments).

    >>> print(insert_top_key('# header\\n\\ndisabled_plugins = []\\n', "version", 2), end="")
    # header
    <BLANKLINE>
    version = 2
    disabled_plugins = []
    """
    doc = parse(text)
    before = plain(doc)
    if key in doc:
        raise EditError(_("{key} is already set").format(key=key))
    lines = text.splitlines(keepends=True)
    at = len(lines)
    for i, line in enumerate(lines):
        s = line.strip()
        if s and not s.startswith("#"):
            at = i
            break
    lines.insert(at, f"{key} = {tomlkit.item(value).as_string()}\n")
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    out = "".join(lines)
    if plain(parse(out)) != {key: value, **before}:
        raise EditError(_("adding {key} would change other settings").format(key=key))
    return out
