"""``parse_dpkg_status(text, names)`` reads only the asked packages' paragraphs: it must give
exactly what the whole file, read line by line, gives for those names, and refuse the same
malformed line with the same line number."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor.facts.packages import DEB_NAMES
from nodedoctor.parsers import ParseError
from nodedoctor.parsers.dpkg import parse_dpkg_status
from tests.helpers import CASES, ROOTS

NAMES = sorted({n for names in DEB_NAMES.values() for n in names})


def _both(text: str, names: list[str]) -> tuple[object, object]:
    def outcome(call: object) -> object:
        try:
            return call() if callable(call) else None
        except ParseError as exc:
            return ("error", exc.line, exc.message)

    full = outcome(lambda: parse_dpkg_status(text))
    if isinstance(full, dict):
        full = {n: p for n, p in full.items() if n in names}
    return full, outcome(lambda: parse_dpkg_status(text, names=names))


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
    full, named = _both(text, NAMES)
    assert named == full


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
    text = separator.join(paragraphs) + tail
    full, named = _both(text, names)
    assert named == full
