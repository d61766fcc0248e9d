"""Real inputs to mutate: every text file of the test roots and rule cases."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
MAX_SEED = 64 * 1024


@lru_cache(maxsize=1)
def seed_files() -> tuple[tuple[str, str], ...]:
    """(node path, text) of every file under tests/roots/*/root and tests/cases/*/*/root:
    the cases' overlays and the bases they name (tests/cases/_bases), each file once."""
    out: list[tuple[str, str]] = []
    roots = [*TESTS.glob("roots/*/root"), *TESTS.glob("cases/*/*/root")]
    for root in sorted(roots):
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            data = path.read_bytes()[:MAX_SEED]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append(("/" + str(path.relative_to(root)), text))
    return tuple(out)


def seeds() -> tuple[str, ...]:
    texts = sorted({text for _, text in seed_files()})
    return tuple(texts) or ("",)
