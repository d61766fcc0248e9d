"""``--output``: the atomic write that the textfile collector's DaemonSet does every minute: a
private temp file beside the target, synced, renamed over it (tests/speed/test_imports.py
checks that a check without ``--output`` imports no tempfile)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

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


def test_the_temp_file_is_private_beside_the_target_and_synced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "nodedoctor.prom"
    seen: list[tuple[str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        seen.append(("fsync", stat.S_IMODE(os.fstat(fd).st_mode)))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        assert os.path.dirname(src) == str(tmp_path)
        assert os.path.basename(src).startswith(".nodedoctor.prom.")
        assert Path(src).read_text(encoding="utf-8") == "all of it\n"
        seen.append(("replace", stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(str(target), "all of it\n", mode=0o640)
    # Written privately, given its mode only when complete, then renamed.
    assert seen == [("fsync", 0o600), ("replace", 0o640)]
    assert os.listdir(tmp_path) == ["nodedoctor.prom"]


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    (tmp_path / "victim").write_text("keep\n", encoding="utf-8")
    (tmp_path / "out").symlink_to(tmp_path / "victim")
    write_atomic(str(tmp_path / "out"), "new\n")
    assert not (tmp_path / "out").is_symlink()
    assert (tmp_path / "out").read_text(encoding="utf-8") == "new\n"
    assert (tmp_path / "victim").read_text(encoding="utf-8") == "keep\n"
