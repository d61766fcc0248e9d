"""The clean journal read back bounded (issue 12): a manifest damaged by a crash, a full disk
or a hand edit is listed as damaged with the file and the field, never a traceback, and none
of its items reaches a restore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodedoctor.clean import journal
from nodedoctor.clean.journal import CleanEntry, CleanJournalError, Item, load, scan
from nodedoctor.cli.clean import clean_journal_listing

ID = "clean-20261208T001500Z-abc123"


def _good() -> dict[str, object]:
    entry = CleanEntry(ID, "", 1_765_000_000.0, "applied", [])
    entry.items.append(Item("move", "/etc/cni/net.d/10-calico.conflist", "done", "files/0"))
    entry.items.append(Item("nft-table", "nft table ip kube-proxy", "done", "saved/1.nft"))
    data = entry.to_json()
    assert isinstance(data, dict)
    return data


DAMAGED = {
    "not JSON": b"{",
    "too deep": b'{"schema": "nodedoctor/clean-journal/v1", "items": ' + b"[" * 5000,
    "too large": b" " * (5 * 1024 * 1024) + b"{}",
    "wrong schema": json.dumps({**_good(), "schema": "x"}).encode(),
    "id of another entry": json.dumps({**_good(), "id": "clean-other"}).encode(),
    "no state": json.dumps({k: v for k, v in _good().items() if k != "state"}).encode(),
    "created a string": json.dumps({**_good(), "created": "yesterday"}).encode(),
    "created past time_t": json.dumps({**_good(), "created": 1e300}).encode(),
    "created NaN": json.dumps({**_good(), "created": float("nan")}).encode(),
    "rolled back at infinity": json.dumps({**_good(), "rolled_back_at": 1e400}).encode(),
    "items not a list": json.dumps({**_good(), "items": {"a": 1}}).encode(),
    "item without kind": json.dumps({**_good(), "items": [{"path": "/x"}]}).encode(),
    "unknown kind": json.dumps({**_good(), "items": [{"kind": "rm", "path": "/x"}]}).encode(),
    "stored outside the entry": json.dumps(
        {**_good(), "items": [{"kind": "move", "path": "/etc/x", "stored": "../../etc/shadow"}]}
    ).encode(),
    "a relative move": json.dumps(
        {**_good(), "items": [{"kind": "move", "path": "etc/x", "stored": "files/0"}]}
    ).encode(),
    "chains not strings": json.dumps(
        {**_good(), "items": [{"kind": "iptables", "path": "x", "chains": [1]}]}
    ).encode(),
}


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(journal, "CLEAN_JOURNAL_DIR", str(tmp_path))
    return tmp_path


def _write(base: Path, raw: bytes, entry_id: str = ID) -> Path:
    directory = base / entry_id
    directory.mkdir()
    (directory / "manifest.json").write_bytes(raw)
    return directory


def test_a_good_manifest_reads_back(base: Path) -> None:
    entry = load(str(_write(base, json.dumps(_good()).encode())))
    assert [i.stored for i in entry.items] == ["files/0", "saved/1.nft"]


@pytest.mark.parametrize("damage", list(DAMAGED), ids=list(DAMAGED))
def test_a_damaged_manifest_is_listed_never_loaded(base: Path, damage: str) -> None:
    directory = _write(base, DAMAGED[damage])
    with pytest.raises(CleanJournalError, match=r"manifest\.json"):
        load(str(directory))
    entries, damaged = scan()
    assert entries == []
    ((entry_id, error),) = damaged
    assert entry_id == ID
    assert "manifest.json" in error
    text, data = clean_journal_listing("no fixes applied yet\n", [])
    assert f"{ID}  damaged: " in text
    assert data == [{"id": ID, "state": "damaged", "interrupted": False, "error": error}]
