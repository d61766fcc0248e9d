"""``parse_dpkg_status(text, names)`` reads only the asked packages' paragraphs: where the whole
file reads, it gives exactly what the whole file gives for those names; a malformed line is
refused (with its line number) only inside those paragraphs. The searching reader and the
paragraph-by-paragraph one (used where lines break at more than ``\n``) agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor.facts.packages import DEB_NAMES
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.dpkg import DebPackage, _named_line_by_line, parse_dpkg_status
from tests.helpers import CASES, ROOTS

NAMES = sorted({n for names in DEB_NAMES.values() for n in names})


def _outcome(call: Callable[[], dict[str, DebPackage]]) -> object:
    try:
        return call()
    except ParseError as exc:
        return ("error", exc.line, exc.message)


def _check(text: str, names: list[str]) -> None:
    named = _outcome(lambda: parse_dpkg_status(text, names=names))
    assert named == _outcome(lambda: _named_line_by_line(text, names))
    full = _outcome(lambda: parse_dpkg_status(text))
    if isinstance(full, dict):
        assert named == {n: p for n, p in full.items() if n in names}


# Case overlays and the bases they name (tests/cases/_bases) hold every case's file once.
STATUS_FILES = sorted(
    [
        *ROOTS.glob("*/root/var/lib/dpkg/status"),
        *CASES.glob("*/*/root/var/lib/dpkg/status"),
        *[p for p in [Path("/var/lib/dpkg/status")] if p.is_file()],
    ]
)


@pytest.mark.parametrize("path", STATUS_FILES, ids=str)
def test_real_status_files(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    _check(text, NAMES)
    assert parse_dpkg_status(text, names=NAMES) == {
        n: p for n, p in parse_dpkg_status(text).items() if n in NAMES
    }


_WS = st.sampled_from(["", " ", "\t", "  ", "\u00a0"])
_NAME = st.sampled_from([*NAMES[:4], "libc6", "containerd.iox", "xrunc"])
_STATUS = st.sampled_from(
    ["install ok installed", "deinstall ok config-files", "hold ok installed"]
)


@st.composite
def _paragraph(draw: st.DrawFn) -> str:
    package = f"Package:{draw(_WS)}{draw(_NAME)}{draw(_WS)}"
    extra = draw(
        st.lists(
            st.one_of(
                st.builds(lambda s: f"Status: {s}", _STATUS),
                st.builds(
                    lambda v: f"Version: {v}",
                    st.from_regex(r"[0-9][0-9a-z.~+:-]{0,8}", fullmatch=True),
                ),
                st.just("Description: a tool"),
                st.just(" continued line"),
                st.just("\tconffile abc"),
                st.just("no colon here"),
                st.just(":odd"),
                st.just(" "),
            ),
            max_size=6,
        )
    )
    # dpkg writes Package first; the reader must not count on it.
    return "\n".join(draw(st.permutations([package, *extra])))


@settings(max_examples=300, deadline=None)
@given(
    paragraphs=st.lists(_paragraph(), max_size=6),
    separator=st.sampled_from(["\n\n", "\n \n", "\n\n\n", "\n\r\n"]),
    tail=st.sampled_from(["", "\n", "\n\n"]),
    names=st.lists(_NAME, min_size=1, max_size=3),
)
def test_same_answer_as_the_whole_file(
    paragraphs: list[str], separator: str, tail: str, names: list[str]
) -> None:
    _check(separator.join(paragraphs) + tail, names)


def test_a_malformed_line_elsewhere_costs_no_answer() -> None:
    text = (
        "Package: libfoo\nStatus: install ok installed\nno colon here\nVersion: 1\n\n"
        "Package: runc\nStatus: install ok installed\nVersion: 1.1.12\n"
    )
    with pytest.raises(ParseError):
        parse_dpkg_status(text)
    (runc,) = parse_dpkg_status(text, names=["runc"]).values()
    assert (runc.version, runc.line) == ("1.1.12", 8)
    with pytest.raises(ParseError) as raised:
        parse_dpkg_status(text, names=["libfoo"])
    assert raised.value.line == 3
