"""fix's atomic write (issue 12): while the bytes are written, nothing new is in the target's
directory (an O_TMPFILE file has no name), so a kill then leaves nothing beside the target;
where the filesystem has no O_TMPFILE the journaled temp name is used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nodedoctor.fix import fsops


def _watch_fill(monkeypatch: pytest.MonkeyPatch, directory: Path) -> list[list[str]]:
    seen: list[list[str]] = []
    fill = fsops._fill

    def watched(fd: int, data: bytes, **kw: object) -> None:
        seen.append(sorted(os.listdir(directory)))
        fill(fd, data, **kw)  # type: ignore[arg-type]
        seen.append(sorted(os.listdir(directory)))

    monkeypatch.setattr(fsops, "_fill", watched)
    return seen


def test_nothing_is_beside_the_target_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "crio.conf.d" / "99-nodedoctor.conf"
    target.parent.mkdir()
    target.write_text("old\n")
    seen = _watch_fill(monkeypatch, target.parent)
    fsops.atomic_write(str(target), b"new\n", tag="t1", mode=0o644)
    assert target.read_text() == "new\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert seen == [["99-nodedoctor.conf"], ["99-nodedoctor.conf"]]
    assert sorted(os.listdir(target.parent)) == ["99-nodedoctor.conf"]


def test_without_o_tmpfile_the_journaled_temp_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old\n")
    monkeypatch.setattr(fsops, "_open_anonymous", lambda directory: None)
    seen = _watch_fill(monkeypatch, tmp_path)
    fsops.atomic_write(str(target), b"new\n", tag="t2", mode=0o600)
    temp = os.path.basename(fsops.temp_name(str(target), "t2"))
    assert seen[0] == sorted(["config.toml", temp])
    assert target.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]
