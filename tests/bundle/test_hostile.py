"""Bundles are hostile input: every unsafe archive is refused with exit 2 and a clear message,
and nothing is written outside a private temporary directory that is removed afterwards."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest

from nodedoctor.cli import main
from nodedoctor.sources.bundle import (
    MANIFEST,
    MANIFEST_SCHEMA,
    BundleError,
    Limits,
    extract_bundle,
    open_bundle,
)

MANIFEST_BYTES = json.dumps({"schema": MANIFEST_SCHEMA, "files": []}).encode()


def _member(
    name: str,
    data: bytes = b"",
    *,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    size: int | None = None,
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644 if kind != tarfile.DIRTYPE else 0o755
    if kind == tarfile.REGTYPE:
        info.size = len(data) if size is None else size
        return info, data
    return info, None


def write_bundle(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], manifest: bool = True
) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        if manifest:
            info, data = _member(MANIFEST, MANIFEST_BYTES)
            tar.addfile(info, io.BytesIO(data or b""))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the bundle's temporary directories appear under a directory we can watch."""
    watched = tmp_path / "tmp"
    watched.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(watched))
    return watched


def refused(bundle: Path, capsys: pytest.CaptureFixture[str], fragment: str) -> None:
    code = main(["check", "--bundle", str(bundle)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err
    assert "Traceback" not in err
    assert err.startswith("nodedoctor: --bundle: ")


HOSTILE = {
    "absolute": ([_member("/etc/passwd", b"root:x:0:0")], "absolute names are not allowed"),
    "dotdot": ([_member("etc/../../escape", b"x")], "'..' is not allowed"),
    "dotdot-first": ([_member("../escape", b"x")], "'..' is not allowed"),
    "symlink-absolute": (
        [_member("etc/shadow-link", kind=tarfile.SYMTYPE, linkname="/etc/shadow")],
        "leaves the bundle",
    ),
    "symlink-up": (
        [_member("etc/up", kind=tarfile.SYMTYPE, linkname="../../../etc/shadow")],
        "leaves the bundle",
    ),
    "hardlink-outside": (
        [_member("etc/hl", kind=tarfile.LNKTYPE, linkname="/etc/shadow")],
        "absolute names are not allowed",
    ),
    "hardlink-up": (
        [_member("etc/hl", kind=tarfile.LNKTYPE, linkname="../../etc/shadow")],
        "'..' is not allowed",
    ),
    "hardlink-missing": (
        [_member("etc/hl", kind=tarfile.LNKTYPE, linkname="etc/not-in-bundle")],
        "does not name an earlier file",
    ),
    "control-character": ([_member("etc/host\nname", b"x")], "control character"),
    "char-device": ([_member("dev/null", kind=tarfile.CHRTYPE)], "character device"),
    "block-device": ([_member("dev/sda", kind=tarfile.BLKTYPE)], "block device"),
    "fifo": ([_member("run/fifo", kind=tarfile.FIFOTYPE)], "fifo"),
    "duplicate": (
        [_member("etc/hostname", b"a"), _member("./etc/hostname", b"b")],
        "appears twice",
    ),
    "through-symlink": (
        [
            _member("etc", kind=tarfile.DIRTYPE),
            _member("etc/l", kind=tarfile.SYMTYPE, linkname="."),
            _member("etc/l/x", b"x"),
        ],
        "which is not a directory",
    ),
    # Directories are kept as names, not made on disk: refused all the same.
    "directory-under-file": (
        [_member("etc/a", b"x"), _member("etc/a/b", kind=tarfile.DIRTYPE)],
        "which is not a directory",
    ),
    "directory-under-symlink": (
        [
            _member("etc", kind=tarfile.DIRTYPE),
            _member("etc/l", kind=tarfile.SYMTYPE, linkname="."),
            _member("etc/l/d", kind=tarfile.DIRTYPE),
        ],
        "which is not a directory",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_is_refused(
    case: str, tmp_path: Path, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members, fragment = HOSTILE[case]
    bundle = write_bundle(tmp_path / f"{case}.tar.gz", members)
    before = set(os.listdir(tmp_path))
    refused(bundle, capsys, fragment)
    assert os.listdir(private_tmp) == [], "the private temporary directory was left behind"
    assert set(os.listdir(tmp_path)) == before, "something was written next to the bundle"
    assert not (tmp_path.parent / "escape").exists()


def test_not_gzip_and_truncated(
    tmp_path: Path, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(b"this is not a bundle\n" * 10)
    refused(plain, capsys, "not a valid gzip stream")
    good = write_bundle(tmp_path / "good.tar.gz", [_member("etc/hostname", b"n1\n" * 5000)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    refused(cut, capsys, str(cut))
    assert os.listdir(private_tmp) == []


def test_missing_bundle_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused(tmp_path / "absent.tar.gz", capsys, "cannot open")
    refused(tmp_path, capsys, "not a regular file")


def test_archive_without_manifest_is_not_a_bundle(
    tmp_path: Path, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = write_bundle(tmp_path / "b.tar.gz", [_member("etc/hostname", b"n1\n")], False)
    refused(bundle, capsys, "not a nodedoctor bundle")
    assert os.listdir(private_tmp) == []


def test_decompression_bomb_is_stopped_by_ratio(
    tmp_path: Path, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    zeros = 64 * 1024 * 1024
    with tarfile.open(bomb, "w:gz", compresslevel=9) as tar:
        info = tarfile.TarInfo("var/log/zeros")
        info.size = zeros
        tar.addfile(info, _Zeros(zeros))
    assert bomb.stat().st_size < zeros / 500
    refused(bomb, capsys, "decompression bomb")
    assert os.listdir(private_tmp) == []


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def test_total_and_member_limits(tmp_path: Path) -> None:
    data = os.urandom(200_000)  # incompressible: the ratio check stays quiet
    bundle = write_bundle(tmp_path / "big.tar.gz", [_member("var/a", data), _member("var/b", data)])
    dest = tmp_path / "x"
    dest.mkdir()
    with pytest.raises(BundleError, match="once decompressed"):
        extract_bundle(str(bundle), str(dest), Limits(total_bytes=300_000))
    dest2 = tmp_path / "y"
    dest2.mkdir()
    with pytest.raises(BundleError, match="over the 100000-byte limit"):
        extract_bundle(str(bundle), str(dest2), Limits(member_bytes=100_000))
    dest3 = tmp_path / "z"
    dest3.mkdir()
    with pytest.raises(BundleError, match="larger than"):
        extract_bundle(str(bundle), str(dest3), Limits(compressed_bytes=1000))


def test_member_count_limit(tmp_path: Path) -> None:
    members = [_member(f"etc/f{i}", b"x") for i in range(30)]
    bundle = write_bundle(tmp_path / "many.tar.gz", members)
    dest = tmp_path / "x"
    dest.mkdir()
    with pytest.raises(BundleError, match="more than 20 members"):
        extract_bundle(str(bundle), str(dest), Limits(members=20))


def test_size_lies_in_header_cannot_overfill(tmp_path: Path) -> None:
    """A header claiming more than the limit is refused before any data is read."""
    bundle = tmp_path / "liar.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        info = tarfile.TarInfo("var/huge")
        info.size = 10
        tar.addfile(info, io.BytesIO(b"0123456789"))
    dest = tmp_path / "x"
    dest.mkdir()
    with pytest.raises(BundleError, match="over the 5-byte limit"):
        extract_bundle(str(bundle), str(dest), Limits(member_bytes=5))


def test_links_inside_are_allowed_and_reads_stay_inside(tmp_path: Path, private_tmp: Path) -> None:
    bundle = write_bundle(
        tmp_path / "ok.tar.gz",
        [
            _member("usr/lib/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            _member("etc/os-release", kind=tarfile.SYMTYPE, linkname="../usr/lib/os-release"),
            _member("etc/hostname", b"n1\n"),
            _member("etc/hostname-copy", kind=tarfile.LNKTYPE, linkname="etc/hostname"),
        ],
    )
    with open_bundle(str(bundle)) as root:
        assert root.read_text("/etc/os-release") == 'ID=debian\nVERSION_ID="12"\n'
        assert root.read_text("/etc/hostname-copy") == "n1\n"
        assert not root.live
        assert root.running
        owned = Path(root.base).parent
        assert stat.S_IMODE(owned.stat().st_mode) == 0o700
        assert owned.parent == private_tmp
        host = Path(root.base, "etc", "hostname-copy")
        assert host.stat().st_nlink == 1, "hardlinks are copied, never linked"
    assert os.listdir(private_tmp) == []


def test_recorded_commands_are_validated(tmp_path: Path) -> None:
    good = {"name": "uname-m", "argv": ["uname", "-m"], "returncode": 0, "stdout": "aarch64\n"}
    not_allowed = {"name": "rm-rf", "argv": ["rm", "-rf", "/"], "returncode": 0, "stdout": ""}
    misnamed = dict(good, name="uname-r")
    bundle = write_bundle(
        tmp_path / "cmd.tar.gz",
        [
            _member(".nodedoctor/commands/uname-m.json", json.dumps(good).encode()),
            _member(".nodedoctor/commands/rm-rf.json", json.dumps(not_allowed).encode()),
            _member(".nodedoctor/commands/kubelet-version.json", json.dumps(misnamed).encode()),
            _member(".nodedoctor/commands/crio-version.json", b"{not json"),
        ],
    )
    with open_bundle(str(bundle)) as root:
        result = root.run("uname-m")
        assert result is not None
        assert result.stdout == "aarch64\n"
        assert root.run("rm-rf") is None
        assert root.run("uname-r") is None
        assert root.run("kubelet-version") is None
        assert root.run("crio-version") is None
