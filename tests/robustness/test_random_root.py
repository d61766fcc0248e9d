"""``check`` on a root of random and mutated files at the real paths gives a report (findings,
parse errors), never a crash and never an ``internal-error``.

The paths are the ones that matter: every file a check of this machine reads (recorded by
``nodedoctor.collect.RecordingRoot``, so new rules' files are covered automatically), the
files ``collect`` always takes, and every file of the test roots and rule cases.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nodedoctor import engine
from nodedoctor.collect import ALWAYS, RecordingRoot
from nodedoctor.facts import Facts
from nodedoctor.render import Format, renderer
from nodedoctor.rules import all_rules
from nodedoctor.sources.root import directory_root, live_root
from tests.robustness.conftest import CASES
from tests.robustness.seeds import seed_files
from tests.robustness.strategies import mutated


@lru_cache(maxsize=1)
def node_paths() -> tuple[str, ...]:
    recording = RecordingRoot(live_root())
    engine.run(Facts(recording), list(all_rules()))
    paths = set(recording.files) | set(recording.tails)
    paths |= {p for p in ALWAYS if "*" not in p}
    paths |= {path for path, _ in seed_files()}
    return tuple(sorted(paths))


def _seeds_for(path: str) -> tuple[str, ...]:
    return tuple(sorted({text for p, text in seed_files() if p == path}))


@st.composite
def random_root(draw: st.DrawFn) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    chosen = draw(st.lists(st.sampled_from(node_paths()), min_size=1, max_size=30, unique=True))
    for path in chosen:
        choice = draw(st.integers(1, 5))
        if choice == 1:
            files[path] = draw(st.binary(max_size=300))
        elif choice == 2:
            files[path] = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
        else:
            pool = _seeds_for(path)
            text = draw(mutated(pool)) if pool else draw(mutated())
            files[path] = text.encode("utf-8", "surrogatepass")
    return files


def _write(base: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        host = base / path.lstrip("/")
        try:
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_bytes(data)
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            continue  # a path that is a file in one place and a directory in another


#: A whole check per case; each root holds up to 30 of the files.
ROOT_EXAMPLES = settings.get_profile("robustness").max_examples


@settings(settings.get_profile("robustness"), max_examples=ROOT_EXAMPLES)
@given(files=random_root())
def test_check_on_random_root_reports_and_never_crashes(files: dict[str, bytes]) -> None:
    CASES["random roots"] += 1
    with tempfile.TemporaryDirectory(prefix="nodedoctor-fuzz-") as tmp:
        _write(Path(tmp), files)
        report = engine.run(Facts(directory_root(tmp)), list(all_rules()))
        crashed = [f for f in report.findings if f.rule == "internal-error"]
        assert not crashed, [f.message for f in crashed]
        for fmt in (Format.TEXT, Format.JSON):
            assert renderer(fmt)(report, False)
