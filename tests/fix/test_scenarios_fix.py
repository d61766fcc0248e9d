"""Every scenario root (tests/roots/*/root): ``fix --apply --yes`` on a copy leaves nothing
"still wrong" (each addressed finding is fixed, or needs a reboot or restart, or is left to
the user with an instruction), a second plan is empty, and ``rollback`` returns the copy to
byte-identical. Every TOML file the fix writes is also loaded by the real containerd when it
is a containerd config.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nodedoctor.cli import main
from tests import realcontainerd
from tests.fix.helpers import snapshot
from tests.helpers import ROOTS

SCENARIOS = sorted(p for p in ROOTS.glob("*/root") if p.is_dir())


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.parent.name for p in SCENARIOS])
def test_fix_apply_and_rollback(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    shutil.copytree(scenario, root, symlinks=True)
    before = snapshot(root)
    args = ("--root", str(root), "--format", "json")
    code, shown = _json(capsys, "fix", *args)
    plan = shown["plan"]
    assert isinstance(plan, dict)
    if not plan["steps"] and not plan["commands"]:
        assert code == 0
        return
    assert code == 1
    code, applied = _json(capsys, "fix", *args, "--apply", "--yes")
    result = applied["applied"]
    assert isinstance(result, dict)
    statuses = {o["rule"]: o["status"] for o in result["outcomes"]}
    assert "still-wrong" not in statuses.values(), result["outcomes"]
    assert code == 0
    for path in result["written"]:
        if (
            path.endswith(".toml")
            and "containerd" in path
            and realcontainerd.missing_daemon() is None
        ):
            config = root / path.lstrip("/")
            realcontainerd.effective_config(config)  # raises when containerd cannot load it
    code, again = _json(capsys, "fix", *args)
    assert code == 0, again["plan"]
    code, _ = _json(capsys, "rollback", "--root", str(root), "--format", "json")
    assert code == 0
    assert snapshot(root) == before
