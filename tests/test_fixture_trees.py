"""Fixture roots must survive a clone: git keeps files, not directories.

An empty directory in a fixture root (a pod directory under ``/var/lib/kubelet/pods``, say)
exists in the working tree that made it but not in a fresh clone, so a case can pass here and
fail in CI. Every directory under the fixture trees must hold a file somewhere below it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
TREES = [TESTS / "cases", TESTS / "roots"]


def _empty_dirs(top: Path) -> list[str]:
    empty = []
    for dirpath, dirnames, filenames in os.walk(top):
        if not dirnames and not filenames:
            empty.append(os.path.relpath(dirpath, TESTS))
    return empty


@pytest.mark.parametrize("tree", TREES, ids=[t.name for t in TREES])
def test_no_empty_directories(tree: Path) -> None:
    assert _empty_dirs(tree) == [], "git drops empty directories; put a real file in each"
