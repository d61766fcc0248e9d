"""Collect every scenario root and rule case of the suite into a bundle and check the bundle:
the findings are those of the root itself. This is what proves that ``collect`` takes
exactly the files the rules read, for every rule, including rules added later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nodedoctor import engine
from nodedoctor.collect import collect
from nodedoctor.facts import Facts
from nodedoctor.model import Report
from nodedoctor.rules import all_rules
from nodedoctor.sources.bundle import open_bundle
from nodedoctor.sources.root import Root, directory_root
from tests.helpers import ROOTS, case_dirs, case_root

#: Scenario roots, and rule cases (built from their overlays in the test).
ALL_ROOTS = sorted([*ROOTS.glob("*/root"), *case_dirs()])


def _id(source: Path) -> str:
    return "/".join(source.parts[-3:-1] if source.name == "root" else source.parts[-2:])


def _findings(report: Report) -> list[dict[str, Any]]:
    return sorted(
        (f.to_json() for f in report.findings), key=lambda d: json.dumps(d, sort_keys=True)
    )


def _check(root: Root) -> Report:
    return engine.run(Facts(root), list(all_rules()))


@pytest.mark.parametrize("source", ALL_ROOTS, ids=[_id(p) for p in ALL_ROOTS])
def test_bundle_of_a_root_finds_what_the_root_finds(source: Path, tmp_path: Path) -> None:
    root = source if source.name == "root" else case_root(source)
    direct = _check(directory_root(str(root)))
    result = collect(directory_root(str(root)), str(tmp_path / "b.tar.gz"))
    with open_bundle(result.path) as bundle:
        replayed = _check(bundle)
    assert _findings(replayed) == _findings(direct)
    assert sorted(replayed.passed) == sorted(direct.passed)
    assert sorted(s.rule for s in replayed.skipped) == sorted(s.rule for s in direct.skipped)


def test_recording_root_sees_every_read() -> None:
    """A new way of reading a root must be recorded, or ``collect`` would miss its files."""
    import inspect

    from nodedoctor.collect import RecordingRoot

    # Built on the recorded methods (subdirs: on listdir and is_dir when a subclass overrides
    # them, as RecordingRoot does).
    delegating = {"read", "read_text", "glob", "resolve", "subdirs"}
    # Reads no node file: a bundle's manifest says which files its writer left out.
    delegating.add("left_out")
    public = {
        name
        for name, member in inspect.getmembers(Root, inspect.isfunction)
        if not name.startswith("_") and "path" in inspect.signature(member).parameters
    }
    overridden = {name for name in public if name in vars(RecordingRoot)}
    assert public - delegating - overridden == set()
