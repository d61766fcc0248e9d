"""``collect`` never writes a bundle its own reader refuses: the writer checks each member
against the reader's limits and leaves out what would break one, and the reader says, as a
parse-error finding, which file was left out and why."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor import engine
from nodedoctor.collect import collect
from nodedoctor.collect.writer import BundleWriter
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import BundleError, Limits, extract_bundle, open_bundle
from nodedoctor.sources.root import directory_root
from tests.helpers import ROOTS

#: The reader's limits, small enough that a few kilobytes reach each of them.
SMALL = Limits(
    compressed_bytes=1 << 20,
    total_bytes=400_000,
    member_bytes=60_000,
    members=8,
    ratio=20,
    ratio_after=32_768,
    name_length=40,
    depth=4,
)

NAMES = st.lists(st.sampled_from(["a", "b", "etc", "x\\y", "z\x01", "c" * 30]), min_size=1)
#: A file's contents as (unit, times), from incompressible to very repetitive: random bytes
#: repeated up to 8,000 times (kept apart, so a failing example prints short); None: a
#: directory.
DATA = st.one_of(st.none(), st.tuples(st.binary(max_size=8), st.integers(1, 8000)))
MEMBERS = st.lists(st.tuples(NAMES.map("/".join), DATA), min_size=1, max_size=20)


def _contents(data: tuple[bytes, int] | None) -> bytes | None:
    return None if data is None else data[0] * data[1]


def _write(
    path: Path, members: list[tuple[str, bytes | None]], limits: Limits
) -> dict[str, bytes | None]:
    written: dict[str, bytes | None] = {}
    with open(path, "wb") as raw:
        writer = BundleWriter(raw, limits, 0)
        for name, data in members:
            if writer.add(name, data) is None:
                written[name] = data
        writer.close()
    return written


@settings(max_examples=200, deadline=None)
@given(generated=MEMBERS)
def test_the_reader_opens_whatever_the_writer_wrote(
    generated: list[tuple[str, tuple[bytes, int] | None]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    members = [(name, _contents(data)) for name, data in generated]
    tmp = tmp_path_factory.mktemp("w")
    written = _write(tmp / "b.tar.gz", members, SMALL)
    dest = tmp / "out"
    dest.mkdir()
    names = extract_bundle(str(tmp / "b.tar.gz"), str(dest), SMALL)
    assert set(names) <= set(written) | {"."}
    for name, data in written.items():
        if data is not None:
            assert (dest / name).read_bytes() == data


def test_each_limit_of_the_reader_leaves_a_member_out(tmp_path: Path) -> None:
    out = io.BytesIO()
    writer = BundleWriter(out, SMALL, 0, reserve=1)
    assert writer.add("etc/os-release", b"ID=debian\n") is None
    refused = {
        "a\\b": "control character or backslash",
        "a/b/c/d/e": "nested deeper than 4",
        "n" * 41: "empty or overlong name",
        "etc/os-release": "written twice",
        "etc/os-release/x": "lies under 'etc/os-release', a file in the bundle",
        "etc": "a directory in the bundle",
        "big": "limit for a file",
        "zeros": "compresses more than 10 times",
    }
    for name, expected in refused.items():
        data = bytes(70_000) if name == "big" else bytes(50_000) if name == "zeros" else b""
        reason = writer.add(name, data)
        assert expected in (reason or ""), (name, reason)
    for i in range(6):
        assert writer.add(f"f{i}", os.urandom(100)) is None
    assert writer.add("one-more", b"") == "the bundle holds at most 8 members"
    assert writer.add("manifest", b"{}", required=True) is None  # the reserved one
    with pytest.raises(BundleError, match="cannot be written"):
        writer.add("another", b"{}", required=True)
    writer.close()
    (tmp_path / "b.tar.gz").write_bytes(out.getvalue())
    (tmp_path / "x").mkdir()
    names = extract_bundle(str(tmp_path / "b.tar.gz"), str(tmp_path / "x"), SMALL)
    assert len(names) == 8


def _copy(base: Path, node: Path) -> None:
    for src in base.rglob("*"):
        dest = node / src.relative_to(base)
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())


def test_past_the_member_limit_empty_directories_go_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big cgroup v1 node lists more pod cgroups than a bundle may hold members: the files
    all go in, then the pod directories, and what is left out is empty cgroups, counted."""
    import nodedoctor.collect as collect_mod

    node = tmp_path / "node"
    _copy(ROOTS / "kubeadm-healthy-v2" / "root", node)
    for i in range(120):
        (node / f"var/lib/kubelet/pods/{i:08d}-0000-4000-8000-000000000000").mkdir(parents=True)
        pod = node / f"sys/fs/cgroup/kubepods.slice/kubepods-pod{i:08d}.slice"
        pod.mkdir(parents=True)
    limits = Limits(members=150)
    monkeypatch.setattr(collect_mod, "DEFAULT_LIMITS", limits)
    result = collect(directory_root(str(node)), str(tmp_path / "b.tar.gz"))
    assert not result.left_out
    count, why = result.directories_left_out
    assert count > 0
    assert why == "the bundle holds at most 150 members"
    with open_bundle(result.path, limits) as bundle:
        assert bundle.manifest["directories_left_out"] == {"count": count, "reason": why}
        kept = bundle.listdir("/sys/fs/cgroup/kubepods.slice") or []
        pods = bundle.listdir("/var/lib/kubelet/pods") or []
    assert pods == sorted(os.listdir(node / "var/lib/kubelet/pods")), "pod directories go first"
    assert len(kept) < len(os.listdir(node / "sys/fs/cgroup/kubepods.slice"))


def test_a_repetitive_config_is_left_out_and_the_check_says_so(tmp_path: Path) -> None:
    """A huge repetitive containerd config (200 MB on the node in the report that found it)
    made a 28 KB bundle that the reader refused as a bomb; a drop-in name with a backslash
    (systemd escapes) made the reader refuse the whole bundle too."""
    node = tmp_path / "node"
    _copy(ROOTS / "kubeadm-healthy-v2" / "root", node)
    config = node / "etc/containerd/config.toml"
    with open(config, "w", encoding="utf-8") as f:
        for _ in range(8000):
            f.write("# " + "a" * 1000 + "\n")
    dropins = node / "etc/systemd/system/kubelet.service.d"
    dropins.mkdir(parents=True)
    (dropins / "10-a\\x2db.conf").write_text("[Service]\n", encoding="utf-8")
    result = collect(directory_root(str(node)), str(tmp_path / "b.tar.gz"))
    assert (
        "compresses more than 100 times"
        in dict(result.left_out_reasons)[str(config)[len(str(node)) :]]
    )
    with tarfile.open(result.path) as tar:
        assert not [n for n in tar.getnames() if "\\" in n]
    with open_bundle(result.path) as bundle:
        assert "/etc/containerd/config.toml" in bundle.manifest["left_out"]
        report = engine.run(Facts(bundle), list(all_rules()))
    config_error, dropins_error = sorted(
        (f for f in report.findings if f.rule == "parse-error"), key=lambda f: f.message
    )
    assert "/etc/containerd/config.toml: left out of the bundle: compresses" in config_error.message
    # The drop-in the bundle could not hold: the unit's drop-ins are not read from part of them.
    assert dropins_error.message.startswith(
        "/etc/systemd/system/kubelet.service.d: the bundle holds only part of this directory "
        "(1 of its 1 entries are not in the bundle: control character or backslash"
    )
