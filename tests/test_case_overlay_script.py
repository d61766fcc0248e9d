"""scripts/case_overlay.py gives back each committed case: a case built and written again is
the same overlay (the same files, the same expect.yaml), so the tool a contributor edits
cases with and the overlays in the tree agree."""

from __future__ import annotations

import importlib.util
import shutil
from functools import cache
from pathlib import Path
from typing import Callable, cast

import pytest

from tests.helpers import BASES, TESTS, case_dirs, load_expect, materialize_case, tree_entries

SCRIPT = TESTS.parent / "scripts" / "case_overlay.py"
OVERLAYS = [c for c in case_dirs() if load_expect(c / "expect.yaml").get("base")]


@cache
def _write() -> Callable[[Path, Path, str], int]:
    spec = importlib.util.spec_from_file_location("case_overlay", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast("Callable[[Path, Path, str], int]", module.write)


@pytest.mark.parametrize("case", OVERLAYS, ids=[f"{c.parent.name}/{c.name}" for c in OVERLAYS])
def test_build_then_write_gives_the_committed_overlay(case: Path, tmp_path: Path) -> None:
    built = materialize_case(case, tmp_path / "built")
    again = tmp_path / "case"
    shutil.copytree(case, again, symlinks=True)
    base = str(load_expect(case / "expect.yaml")["base"])
    assert _write()(built, again, base) == 0
    assert tree_entries(again) == tree_entries(case)


def test_write_keeps_comments_and_other_keys_and_refuses_a_missing_base(tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "etc").mkdir(parents=True)
    shutil.copy2(BASES / "rocky-9.4-mountinfo/root/etc/os-release", root / "etc/os-release")
    (root / "var/lib/kubelet/pods").mkdir(parents=True)  # empty: must come back as dirs:
    case = tmp_path / "good-case"
    case.mkdir()
    (case / "expect.yaml").write_text("# why\nbase: roots/old\nremove: [/x]\nseverity: error\n")
    write = _write()
    assert write(root, case, "roots/no-such-scenario") == 2
    assert write(root, case, "cases/_bases/rocky-9.4-mountinfo") == 0
    assert (case / "expect.yaml").read_text() == (
        "# why\nbase: cases/_bases/rocky-9.4-mountinfo\nremove:\n  - /proc\n"
        "dirs:\n  - /var/lib/kubelet/pods\nseverity: error\n"
    )
    assert not (case / "root").exists()  # os-release is the base's
    assert tree_entries(materialize_case(case, tmp_path / "built")) == tree_entries(root)
