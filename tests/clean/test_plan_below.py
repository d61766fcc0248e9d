"""The plan's "is an unplanned mount below it?" answers as the scan of the whole mount table
did, in logarithmic time (the scan made planning quadratic in leftover mounts)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor.clean.plan import _under, _UnplannedBelow
from nodedoctor.parsers.mountinfo import Mount

#: Components that sort around "/" ("!" and " " before it, "0" right after it), so the
#: prefix ranges are tested at their edges.
PARTS = st.sampled_from(["a", "a b", "a!", "a0", "b", "kubelet", "pods", "x.y"])
POINTS = st.one_of(
    st.just("/"),
    st.lists(PARTS, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
)


def _mount(line: int, point: str) -> Mount:
    return Mount(line, 1, "0:1", "/", point, ("rw",), "tmpfs", "tmpfs", ("rw",), line, point)


@settings(max_examples=300, deadline=None)
@given(
    table=st.lists(st.tuples(POINTS, st.booleans()), max_size=40),
    asked=st.lists(POINTS, min_size=1, max_size=10),
)
def test_first_unplanned_below_is_the_scans_answer(
    table: list[tuple[str, bool]], asked: list[str]
) -> None:
    mounts = [_mount(i + 1, point) for i, (point, _) in enumerate(table)]
    unplanned = [flag for _, flag in table]
    below = _UnplannedBelow(mounts, unplanned)
    for point in asked:
        scan = [m for m, u in zip(mounts, unplanned) if u and _under(m.mount_point, point)]
        assert below.first(point) == (scan[0] if scan else None), point
