"""The containerd scanner reads a plain dotted key with one regular expression and falls back
to the character-by-character reader for anything else: both must agree on every input. It
scans a value for what continues on the next line only when the value has a bracket or a
triple quote: the lines found must be those of scanning every value."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor.parsers import containerd as containerd_mod
from nodedoctor.parsers.containerd import _split_key_escaped, locate_lines, split_key
from tests.helpers import CASES, ROOTS

_PIECES = st.sampled_from(
    [
        "plugins",
        "io",
        "a-b_c9",
        '"io.containerd.grpc.v1.cri"',
        "'io.containerd.cri.v1'",
        '""',
        "''",
        '"a\\"b"',
        '"a\\\\"',
        '"unclosed',
        "'unclosed",
        ".",
        " ",
        "\t",
        " . ",
        "=",
        " = 1",
        "]",
        "]]",
        "#",
        "x y",
        "é",
        '"é"',
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join))
def test_plain_key_reader_agrees_with_the_escaping_reader(text: str) -> None:
    assert split_key(text) == _split_key_escaped(text)


@given(st.text(max_size=40))
def test_agrees_on_any_text(text: str) -> None:
    assert split_key(text) == _split_key_escaped(text)


# Case overlays and the bases they name (tests/cases/_bases) hold every case's file once.
CONFIGS = sorted(
    p
    for p in [*ROOTS.glob("*/root/**/*.toml"), *CASES.glob("*/*/root/**/*.toml")]
    if "containerd" in str(p)
)
_VALUES = st.sampled_from(
    ['"s"', "1", "true", "[]", "[", "]", "{", "}", '"""', "'''", '"[', "'{'", "# [", "x"]
)
_LINES = st.sampled_from(["[a]", "[a.b]", "[[c]]", "k = ", "a.b = ", "", "# c", "  "])


def _every_value_scanned(text: str) -> object:
    saved = containerd_mod._may_continue
    containerd_mod._may_continue = lambda value: True
    try:
        return locate_lines(text)
    finally:
        containerd_mod._may_continue = saved


def test_configs_lines_as_if_every_value_were_scanned() -> None:
    assert len(CONFIGS) >= 10
    for path in CONFIGS:
        text = path.read_text(encoding="utf-8")
        assert locate_lines(text) == _every_value_scanned(text), path


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(st.tuples(_LINES, st.lists(_VALUES, max_size=3).map(" ".join)), max_size=12))
def test_values_without_brackets_or_triple_quotes_are_not_scanned(
    lines: list[tuple[str, str]],
) -> None:
    text = "\n".join(head + (value if head.endswith("= ") else "") for head, value in lines)
    assert locate_lines(text) == _every_value_scanned(text)
