"""Hypothesis strategies: random text, and real inputs mutated where parsers break."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.robustness.seeds import seeds

#: Fragments that parsers trip over: separators, quotes, escapes, odd line breaks that
#: ``str.splitlines`` honours but ``split("\n")`` does not, huge and negative numbers.
SPECIAL = (
    "\x00",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "=",
    ":",
    "-",
    " - ",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    '"',
    "'",
    '"""',
    "#",
    "\\",
    "\\040",
    "/",
    ",",
    ".",
    "..",
    "0",
    "-1",
    "99999999999999999999999",
    "1e999",
    "\ufffd",
    "\u00e9",
    "\u2028",
    "\x85",
    "\x0c",
    "---",
    "...",
    "  - ",
    "${X}",
    "$X",
    "%s",
    "&anchor",
    "*anchor",
    "!!python/object",
    "true",
    "null",
    "~",
)

fragments = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=24))


@st.composite
def mutated(draw: st.DrawFn, pool: tuple[str, ...] | None = None) -> str:
    """A real input (``pool``, default: every seed) with a few random edits."""
    text = draw(st.sampled_from(pool or seeds()))
    for _ in range(draw(st.integers(1, 6))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 64)))
        op = draw(st.sampled_from(("insert", "delete", "replace", "dup", "truncate", "lines")))
        if op == "insert":
            text = text[:i] + draw(fragments) + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "replace":
            text = text[:i] + draw(fragments) + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "truncate":
            text = text[:i]
        else:
            lines = text.split("\n")
            a = draw(st.integers(0, max(len(lines) - 1, 0)))
            b = draw(st.integers(0, max(len(lines) - 1, 0)))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
    return text


inputs = st.one_of(st.text(max_size=400), mutated())
