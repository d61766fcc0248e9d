"""The journal after a kill or damage: interrupted entries are listed and finished, staging
directories are listed and cleared, damaged manifests are listed (never a crash), and a
rollback of a systemd drop-in reloads systemd (live) or says the node must (offline).

SIGKILL itself is injected in tests/robustness/test_kill.py; here each state a kill can
leave is made directly, on real files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nodedoctor.cli import main
from nodedoctor.fix import engine, journal, manifest, undo
from nodedoctor.sources.root import Root, directory_root
from tests.fix.helpers import JOURNAL, plan_edits, snapshot, write

REPO = Path(__file__).parents[2]
MICROK8S = REPO / "tests/roots/microk8s-1.29-power-cut/root"
DROPIN = "/etc/systemd/system/snap.microk8s.daemon-kubelite.service.d/delegate.conf"
#: The drop-in the MicroK8s fix writes (the fix case's expected result).
DROPIN_TEXT = (REPO / "tests/fix/cases/microk8s-power-cut/after" / DROPIN.lstrip("/")).read_text()
CONTAINERD = REPO / "tests/roots/docker-containerd-io/root"
CONFIG = "/etc/containerd/config.toml"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _microk8s(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    shutil.copytree(MICROK8S, root, symlinks=True)
    return root


def _containerd(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A copy of Docker's containerd.io root, and an edit of its config (a comment added)."""
    root = tmp_path / "node"
    shutil.copytree(CONTAINERD, root, symlinks=True)
    text = (root / CONFIG.lstrip("/")).read_text()
    return root, {CONFIG: (text + "# edited\n", "toml")}


def _entry_dir(root: Path, entry_id: str) -> Path:
    return root / JOURNAL / entry_id


# -- interrupted applies ------------------------------------------------------------
def test_an_apply_stopped_before_any_write_is_listed_and_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The entry is in place (``prepared``), the drop-in directory and the temp file exist,
    the drop-in itself was never renamed in: what a kill inside atomic_write leaves."""
    root = _microk8s(tmp_path)
    before = snapshot(root)
    dirs_before = {p for p in root.rglob("*") if p.is_dir()}
    r = directory_root(str(root))
    plan = plan_edits(root, {DROPIN: (DROPIN_TEXT, "systemd")})
    prepared = [engine.preflight(r, s) for s in plan.steps]
    created = [engine._target_node_path(r, d) for d in engine._dirs_to_create(prepared)]
    assert created == [os.path.dirname(DROPIN)]
    entry = journal.begin(r, ["test-rule"], [(DROPIN, DROPIN, prepared[0].state, b"x")], created)
    assert entry.temp_files == [
        os.path.dirname(DROPIN) + f"/.delegate.conf.nodedoctor-{entry.id}.tmp"
    ]
    write(root, entry.temp_files[0], DROPIN_TEXT[:10])

    code, listed = _json(capsys, "journal", "--root", str(root))
    assert code == 0
    assert listed == [{**entry.to_json(), "interrupted": True}]
    main(["journal", "--root", str(root)])
    assert "interrupted (prepared)" in capsys.readouterr().out

    code, rolled = _json(capsys, "rollback", "--root", str(root))
    assert code == 0, rolled
    assert isinstance(rolled, dict)
    assert rolled["interrupted"] == "prepared"
    assert rolled["cleaned"] == entry.temp_files
    assert rolled["removed_dirs"] == created
    assert rolled["not_run"] == []  # the drop-in never existed: nothing to reload
    assert snapshot(root) == before
    assert {
        p for p in root.rglob("*") if p.is_dir() and "var/lib/nodedoctor" not in str(p)
    } <= dirs_before


def test_an_interrupted_rollback_is_finished_and_still_reloads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed after it removed the drop-in, before it recorded ``rolled-back``: the second
    rollback has nothing left to remove but still tells the node to reload (the first one
    never got there)."""
    root = _microk8s(tmp_path)
    before = snapshot(root)
    r = directory_root(str(root))
    result = engine.apply(r, plan_edits(root, {DROPIN: (DROPIN_TEXT, "systemd")}))
    entry = journal.find(r, result.journal_id)
    os.unlink(root / DROPIN.lstrip("/"))  # what the first rollback did
    entry.state = "rolling-back"
    entry.save()
    main(["journal", "--root", str(root)])
    assert "interrupted (rolling-back)" in capsys.readouterr().out
    code = main(["rollback", "--root", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"finishing the interrupted rollback {entry.id}" in out
    assert "not run: systemctl daemon-reload (offline root" in out
    assert snapshot(root) == before
    assert not (root / os.path.dirname(DROPIN).lstrip("/")).exists()


# -- staging directories -----------------------------------------------------------
def test_a_staging_dir_is_listed_then_cleared_by_the_next_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, edit = _containerd(tmp_path)
    staging = root / JOURNAL / ".20250101T000000Z-abcdef.tmp"
    (staging / "files").mkdir(parents=True)
    shutil.copy(root / CONFIG.lstrip("/"), staging / "files" / "0")
    code, listed = _json(capsys, "journal", "--root", str(root))
    assert code == 0
    assert listed == [
        {
            "id": "20250101T000000Z-abcdef",
            "state": "staging",
            "interrupted": True,
            "error": "an apply stopped before its journal entry was complete; nothing was "
            "written; the next apply or rollback removes it",
        }
    ]
    r = directory_root(str(root))
    engine.apply(r, plan_edits(root, edit))
    assert not staging.exists()
    assert [n for n in os.listdir(root / JOURNAL) if n.endswith(".tmp")] == []
    assert [e.state for e in journal.scan(r).entries] == ["applied"]


# -- damaged manifests -------------------------------------------------------------
def _good_entry(tmp_path: Path) -> tuple[Path, journal.Entry]:
    root, edit = _containerd(tmp_path)
    r = directory_root(str(root))
    result = engine.apply(r, plan_edits(root, edit))
    return root, journal.find(r, result.journal_id)


DAMAGE: dict[str, Callable[[dict[str, Any]], str]] = {
    "deep": lambda d: "[" * 100_000 + "]" * 100_000,
    "huge": lambda d: json.dumps({**d, "pad": "x" * (manifest.MAX_MANIFEST_BYTES + 1)}),
    "not json": lambda d: "{not json",
    "files not a list": lambda d: json.dumps({**d, "files": "abc"}),
    "file not an object": lambda d: json.dumps({**d, "files": [1]}),
    "missing path": lambda d: json.dumps({**d, "files": [{**d["files"][0], "path": None}]}),
    "bad mode": lambda d: json.dumps({**d, "files": [{**d["files"][0], "mode": "0x9"}]}),
    "bad selinux": lambda d: json.dumps({**d, "files": [{**d["files"][0], "selinux": "!!"}]}),
    "backup outside": lambda d: json.dumps(
        {**d, "files": [{**d["files"][0], "backup": "../../../etc/shadow"}]}
    ),
    "negative uid": lambda d: json.dumps({**d, "files": [{**d["files"][0], "uid": -1}]}),
    "unknown state": lambda d: json.dumps({**d, "state": "whatever"}),
    "created not a time": lambda d: json.dumps({**d, "created": "yesterday"}),
    "relative dir": lambda d: json.dumps({**d, "created_dirs": ["etc/x"]}),
    "other id": lambda d: json.dumps({**d, "id": "20250101T000000Z-000000"}),
    "not utf-8": lambda d: "\udcff",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_manifest_is_listed_and_never_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    root, entry = _good_entry(tmp_path)
    manifest = _entry_dir(root, entry.id) / "manifest.json"
    text = DAMAGE[damage](json.loads(manifest.read_text()))
    manifest.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(journal.JournalError, match=str(manifest)):
        journal.load(str(manifest.parent))

    code, listed = _json(capsys, "journal", "--root", str(root))
    assert code == 0
    assert isinstance(listed, list)
    assert [(e["id"], e["state"]) for e in listed] == [(entry.id, "damaged")]
    assert str(manifest) in listed[0]["error"]

    config = (root / CONFIG.lstrip("/")).read_bytes()
    assert main(["rollback", "--root", str(root), entry.id]) == 2
    err = capsys.readouterr().err
    assert f"journal entry {entry.id} is damaged" in err
    assert str(manifest) in err
    assert main(["rollback", "--root", str(root)]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert (root / CONFIG.lstrip("/")).read_bytes() == config


def test_an_entry_without_manifest_is_listed_as_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a kill left before this version built entries in a staging directory."""
    root, _ = _containerd(tmp_path)
    (root / JOURNAL / "20250101T000000Z-abcdef" / "files").mkdir(parents=True)
    code, listed = _json(capsys, "journal", "--root", str(root))
    assert code == 0
    assert isinstance(listed, list)
    assert [e["state"] for e in listed] == ["damaged"]
    assert "manifest.json: missing" in listed[0]["error"]


# -- daemon-reload on rollback -----------------------------------------------------
def test_offline_rollback_of_a_dropin_says_the_node_must_reload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _microk8s(tmp_path)
    assert main(["fix", "--root", str(root), "--apply", "--yes"]) == 0
    capsys.readouterr()
    code, rolled = _json(capsys, "rollback", "--root", str(root))
    assert code == 0
    assert isinstance(rolled, dict)
    assert rolled["removed"] == [DROPIN]
    assert rolled["commands"] == []
    assert [n["command"] for n in rolled["not_run"]] == ["systemctl daemon-reload"]
    assert "offline root" in rolled["not_run"][0]["why"]


def test_offline_rollback_of_other_files_needs_no_reload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = _good_entry(tmp_path)
    code, rolled = _json(capsys, "rollback", "--root", str(root))
    assert code == 0
    assert isinstance(rolled, dict)
    assert rolled["restored"] == [CONFIG]
    assert rolled["not_run"] == []


def _fake_systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int) -> Path:
    """This machine's PID 1 is not systemd: a ``systemctl`` on PATH that records its argv
    stands in for it (the one fake in these tests); the real-systemd VM test runs the real
    one."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "systemctl-calls"
    script = bindir / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit {status}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ.get('PATH', os.defpath)}")
    return calls


@pytest.mark.parametrize("status", [0, 1])
def test_live_rollback_of_a_dropin_runs_daemon_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    root = _microk8s(tmp_path)
    calls = _fake_systemctl(tmp_path, monkeypatch, status)
    live = Root(str(root), live=True)  # a live root whose files are in tmp
    engine.apply(live, plan_edits(root, {DROPIN: (DROPIN_TEXT, "systemd")}))
    entry = journal.entries(live)[-1]
    result = undo.rollback(live, entry)  # the default runner: run_program, PATH
    assert calls.read_text() == "daemon-reload\n"
    assert [(c.argv, c.returncode) for c in result.commands] == [
        (("systemctl", "daemon-reload"), status)
    ]
    assert result.not_run == []
    assert journal.load(entry.directory).state == "rolled-back"


def test_live_rollback_of_other_files_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, edit = _containerd(tmp_path)
    calls = _fake_systemctl(tmp_path, monkeypatch, 0)
    live = Root(str(root), live=True)
    engine.apply(live, plan_edits(root, edit))
    result = undo.rollback(live, journal.entries(live)[-1])
    assert result.commands == []
    assert not calls.exists()
