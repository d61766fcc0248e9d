"""Shared test helpers: run the engine on a directory root."""

from __future__ import annotations

from pathlib import Path

import yaml

from nodedoctor import engine
from nodedoctor.facts import Facts
from nodedoctor.model import Report
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import directory_root

TESTS = Path(__file__).parent
CASES = TESTS / "cases"
ROOTS = TESTS / "roots"


def check_root(path: Path, profile: str | None = None, only: tuple[str, ...] = ()) -> Report:
    facts = Facts(directory_root(str(path)), profile=profile)
    return engine.run(facts, engine.select_rules(all_rules(), only=only))


def load_expect(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict), f"{path}: expected a mapping"
    return data
