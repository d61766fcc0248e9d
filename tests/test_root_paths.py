"""Node paths that come from a node's own files are input like any other: a NUL byte in one
(a unit's ``EnvironmentFile=/\\x00etc/...``) is refused as unsafe, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodedoctor.engine import run
from nodedoctor.facts import Facts
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import Root, UnsafePathError, directory_root

NUL_PATH = "/\x00etc/default/k3s"


@pytest.mark.parametrize("base", ["/", "tmp"])
def test_a_nul_byte_is_an_unsafe_path(base: str, tmp_path: Path) -> None:
    root = Root("/" if base == "/" else str(tmp_path))
    with pytest.raises(UnsafePathError, match="NUL byte"):
        root.resolve(NUL_PATH)
    assert root.read(NUL_PATH) is None
    assert root.read_tail(NUL_PATH) is None
    assert not root.exists(NUL_PATH)
    assert not root.is_dir(NUL_PATH)
    assert root.listdir(NUL_PATH) is None


def test_a_unit_naming_a_nul_path_is_checked_without_a_crash(tmp_path: Path) -> None:
    """The case hypothesis found (tests/robustness/test_random_root.py)."""
    unit = tmp_path / "etc/systemd/system/k3s.service"
    unit.parent.mkdir(parents=True)
    unit.write_bytes(
        b"[Service]\nType=notify\nEnvironmentFile=-/\x00etc/default/%N\n"
        b"ExecStart=/usr/local/bin/k3s \\\n    server \\\n\n"
    )
    report = run(Facts(directory_root(str(tmp_path))), list(all_rules()))
    assert "internal-error" not in {f.rule for f in report.findings}
