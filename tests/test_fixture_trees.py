"""Fixture roots must survive a clone, and case overlays must say exactly what differs.

git keeps files, not directories: an empty directory in a fixture root (a pod directory
under ``/var/lib/kubelet/pods``, say) exists in the working tree that made it but not in a
fresh clone, so a case could pass here and fail in CI. Every directory under the fixture
trees must hold a file somewhere below it; a case that needs an empty directory names it
under ``dirs:`` in its expect.yaml.

A rule case (tests/cases/README.md) is a base root plus its own files: each of those must
differ from the base (else it only hides what the base gives), its expect.yaml holds only
the documented keys, and every shared base under tests/cases/_bases is in use and described.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import (
    BASES,
    CASES,
    EXPECT_KEYS,
    TESTS,
    case_base,
    case_dirs,
    load_expect,
    materialize_case,
    node_paths,
    tree_entries,
)

TREES = [TESTS / "cases", TESTS / "roots"]
CASE_DIRS = case_dirs()


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def _empty_dirs(top: Path) -> list[str]:
    empty = []
    for dirpath, dirnames, filenames in os.walk(top):
        if not dirnames and not filenames:
            empty.append(os.path.relpath(dirpath, top))
    return empty


@pytest.mark.parametrize("tree", TREES, ids=[t.name for t in TREES])
def test_no_empty_directories(tree: Path) -> None:
    assert _empty_dirs(tree) == [], "git drops empty directories; put a real file in each"


@pytest.mark.parametrize("case", CASE_DIRS, ids=[_id(p) for p in CASE_DIRS])
def test_case_overlay_holds_only_what_differs(case: Path, tmp_path: Path) -> None:
    expect = load_expect(case / "expect.yaml")
    assert set(expect) <= EXPECT_KEYS, f"undocumented keys: {set(expect) - EXPECT_KEYS}"
    root = materialize_case(case, tmp_path)  # raises on a removal or a dir that cannot be
    wanted = {str(p) for p in node_paths(case, "dirs")}
    assert set(_empty_dirs(root)) - {"."} == wanted, "an empty directory that dirs: lacks"
    base = case_base(case)
    if base is None or not (case / "root").is_dir():
        return
    removed = [str(p) for p in node_paths(case, "remove")]
    base_entries = tree_entries(base)
    same = [
        rel
        for rel, entry in tree_entries(case / "root").items()
        if entry[0] != "dir"
        and base_entries.get(rel) == entry
        and not any(rel == r or rel.startswith(r + "/") for r in removed)
    ]
    assert same == [], f"the base has these already: {same}"


def test_every_base_is_used_and_described() -> None:
    used = {case_base(c) for c in CASE_DIRS}
    for base in sorted(p for p in BASES.iterdir() if p.is_dir()):
        assert (base / "README.md").is_file(), f"{base}: say which node it is in a README.md"
        assert base / "root" in used, f"{base}: no case names it as base:"
    assert all(p.parent.name == "_bases" for p in CASES.glob("_*/*")), "_bases only"
