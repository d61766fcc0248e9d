"""``--output``: the atomic write that the textfile collector's DaemonSet does every minute,
without tempfile (tests/speed/test_imports.py checks it is not imported)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nodedoctor.cli import output
from nodedoctor.cli.common import UsageError
from nodedoctor.cli.output import write_atomic


def test_writes_the_text_with_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "nodedoctor.prom"
    target.write_text("old\n", encoding="utf-8")
    write_atomic(str(target), "new ü\n")
    assert target.read_text(encoding="utf-8") == "new ü\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_atomic(str(target), "again\n", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["nodedoctor.prom"]


def test_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        write_atomic(str(tmp_path / "no" / "file"), "x")


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.write_text("old\n", encoding="utf-8")

    def no_rename(_src: str, _dst: str) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        write_atomic(str(target), "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["out"]


def test_temp_files_are_new_private_and_never_follow_a_link(tmp_path: Path) -> None:
    fd, path = output._temp_file(str(tmp_path), ".x.")
    os.close(fd)
    assert os.path.dirname(path) == str(tmp_path)
    assert os.path.basename(path).startswith(".x.")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    fd2, path2 = output._temp_file(str(tmp_path), ".x.")
    os.close(fd2)
    assert path2 != path


def test_a_taken_name_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that exists (a planted file or link) is never opened: the next one is used."""
    names = iter([b"\x00" * 6, b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(os, "urandom", lambda _n: next(names))
    (tmp_path / "victim").write_text("keep\n", encoding="utf-8")
    (tmp_path / ".x.000000000000").symlink_to(tmp_path / "victim")
    fd, path = output._temp_file(str(tmp_path), ".x.")
    os.close(fd)
    assert path.endswith(".x.010101010101")
    assert (tmp_path / "victim").read_text(encoding="utf-8") == "keep\n"
