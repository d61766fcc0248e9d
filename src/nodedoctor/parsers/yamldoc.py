"""One YAML document, loaded within bounds: PyYAML's safe loader (libyaml's parser when
PyYAML has it) with a composer of our own that builds the same node tree without recursion,
and stops at :data:`~nodedoctor.parsers.limits.MAX_DEPTH` levels of nesting and at
:data:`~nodedoctor.parsers.limits.MAX_ALIAS_NODES` nodes added by aliases (PyYAML's composer
recurses once per level, and a walk of the tree follows every alias again):

>>> node, data = load_yaml("base: &b {cpu: 1}\\nnode: *b\\n")
>>> data["node"] is data["base"], node.value[1][1] is node.value[0][1]
(True, True)
>>> bomb = "a: &a [x, x]\\n" + "".join(
...     f"a{i}: &a{i} [*{'a' if i == 1 else f'a{i - 1}'}, *{'a' if i == 1 else f'a{i - 1}'}]\\n"
...     for i in range(1, 20))
>>> load_yaml(bomb)
Traceback (most recent call last):
...
nodedoctor.parsers.LimitError: line 12: its aliases expand to more than 10000 nodes
>>> load_yaml("a: " + "[" * 70 + "]" * 70)
Traceback (most recent call last):
...
nodedoctor.parsers.LimitError: line 1: nested deeper than 64
>>> load_yaml("a: &a {b: *a}\\n")
Traceback (most recent call last):
...
nodedoctor.parsers.LimitError: line 1: alias *a refers to the node that contains it
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodedoctor.parsers import LimitError, ParseError
from nodedoctor.parsers.limits import MAX_ALIAS_NODES, MAX_DEPTH, check_size

if TYPE_CHECKING:
    import yaml

_NO_KEY: Any = object()


class _Open:
    """A sequence or mapping being composed: its node, its size with aliases expanded, its
    anchor, and (a mapping) the key waiting for its value."""

    __slots__ = ("anchor", "key", "node", "size")

    def __init__(self, node: yaml.CollectionNode, anchor: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.size = 1
        self.key: Any = _NO_KEY


def _line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return None if mark is None else mark.line + 1


def compose(loader: Any) -> yaml.Node | None:
    """The single document of ``loader``'s stream as PyYAML's ``get_single_node`` composes
    it (the safe loaders have no path resolvers, so tags resolve as there), iteratively.
    ``loader`` is a ``yaml.SafeLoader`` or ``yaml.CSafeLoader``."""
    import yaml  # imported when a file is parsed: start-up cost (bench/)

    loader.get_event()  # stream start
    document: yaml.Node | None = None
    if not loader.check_event(yaml.StreamEndEvent):
        loader.get_event()  # document start
        document = _compose_node(loader)
        loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(
            "expected a single document in the stream",
            None if document is None else document.start_mark,
            "but found another document",
            event.start_mark,
        )
    loader.get_event()  # stream end
    return document


def _compose_node(loader: Any) -> yaml.Node:
    import yaml

    anchors: dict[str, yaml.Node] = {}
    expanded: dict[str, int] = {}
    stack: list[_Open] = []
    added = 0
    while True:
        event = loader.peek_event()
        # libyaml's events carry its own Mark type, which nodes take as PyYAML's.
        start: Any = event.start_mark
        size = 1
        if isinstance(event, yaml.AliasEvent):
            loader.get_event()
            anchor = event.anchor
            if anchor not in anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {anchor!r}", start
                )
            node: yaml.Node = anchors[anchor]
            if anchor not in expanded:
                raise LimitError(
                    f"alias *{anchor} refers to the node that contains it", _line(event)
                )
            size = expanded[anchor]
            added += size
            if added > MAX_ALIAS_NODES:
                raise LimitError(
                    f"its aliases expand to more than {MAX_ALIAS_NODES} nodes", _line(event)
                )
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            loader.get_event()
            closed = stack.pop()
            closed.node.end_mark = event.end_mark
            node, size = closed.node, closed.size
            if closed.anchor is not None:
                expanded[closed.anchor] = size
        else:
            anchor = event.anchor
            if anchor is not None and anchor in anchors:
                raise yaml.composer.ComposerError(
                    f"found duplicate anchor {anchor!r}; first occurrence",
                    anchors[anchor].start_mark,
                    "second occurrence",
                    start,
                )
            loader.get_event()
            tag = event.tag
            if isinstance(event, yaml.ScalarEvent):
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                end: Any = event.end_mark
                node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
                if anchor is not None:
                    anchors[anchor] = node
                    expanded[anchor] = 1
            else:
                kind: type[yaml.CollectionNode] = (
                    yaml.SequenceNode
                    if isinstance(event, yaml.SequenceStartEvent)
                    else yaml.MappingNode
                )
                if tag is None or tag == "!":
                    tag = loader.resolve(kind, None, event.implicit)
                collection = kind(tag, [], start, None, flow_style=event.flow_style)
                if anchor is not None:
                    anchors[anchor] = collection
                if len(stack) >= MAX_DEPTH:
                    raise LimitError(f"nested deeper than {MAX_DEPTH}", _line(event))
                stack.append(_Open(collection, anchor))
                continue
        if not stack:
            return node
        parent = stack[-1]
        parent.size += size
        if isinstance(parent.node, yaml.SequenceNode):
            parent.node.value.append(node)
        elif parent.key is _NO_KEY:
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = _NO_KEY


def _marked(exc: yaml.MarkedYAMLError) -> ParseError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    return ParseError(str(exc.problem or exc.context or "invalid YAML"), line)


def _load_with(loader_class: Any, text: str) -> tuple[yaml.Node | None, object]:
    import yaml

    try:
        loader = loader_class(text)
    except yaml.YAMLError as exc:  # the pure-Python reader refuses control characters here
        raise ParseError(f"invalid YAML: {exc}") from None
    try:
        node = compose(loader)
        return node, loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from None
    except ParseError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        # The constructor's own conversions: a date "2024-13-45", an "!!int 0x".
        raise ParseError(f"invalid YAML: {exc}") from None
    except RecursionError:
        # Only a backstop: the composer is iterative and nesting is bounded above.
        raise LimitError(f"nested deeper than {MAX_DEPTH}") from None
    finally:
        loader.dispose()


def load_yaml(text: str) -> tuple[yaml.Node | None, object]:
    """(node, data) of a single YAML document, within the bounds; ``ParseError`` with the
    line for malformed input or a breach. libyaml's parser reads it when PyYAML has one
    (about six times faster: a fleet batch parses one kubelet config per node); a document
    it refuses is read again by the pure-Python one, so an error is always worded by that
    one parser, whichever build runs."""
    import yaml

    check_size(text)
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _load_with(fast, text)
        except LimitError:
            raise
        except ParseError:
            pass
    return _load_with(yaml.SafeLoader, text)
