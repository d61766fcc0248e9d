"""Every test root a report can be rendered from: the scenario roots (tests/roots), the
recorded nodes (tests/nodes), the fix cases' own roots (tests/fix/cases) and every rule case
overlay built by ``materialize_case``, each with the ``profile:`` its expect.yaml names."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import TESTS, case_dirs, load_expect, materialize_case


def _profile(directory: Path) -> str | None:
    for name in ("expect.yaml", "case.yaml"):
        profile = load_expect(directory / name).get("profile")
        if profile:
            return str(profile)
    return None


def every_root(build_dir: Path) -> list[tuple[str, Path, str | None]]:
    """(name, root directory, profile) of every test root; case overlays are built under
    ``build_dir``."""
    out: list[tuple[str, Path, str | None]] = []
    for group in ("roots", "nodes", "fix/cases"):
        for root in sorted((TESTS / group).glob("*/root")):
            if root.parent.name.startswith("_"):
                continue
            out.append((f"{group}/{root.parent.name}", root, _profile(root.parent)))
    for case in case_dirs():
        name = f"{case.parent.name}/{case.name}"
        root = materialize_case(case, build_dir / case.parent.name / case.name)
        out.append((f"cases/{name}", root, _profile(case)))
    return out
