"""Build a rule case's full root, or turn a full root back into the case's overlay.

    python scripts/case_overlay.py build CASE DEST         # CASE's full root in DEST/root
    python scripts/case_overlay.py write ROOT CASE BASE    # ROOT as CASE, an overlay on BASE

A case (tests/cases/<rule-id>/<case>/, tests/cases/README.md) is a base root plus its own
files. To change one, ``build`` it, edit the built root, and ``write`` it back; to add one,
start from a copy of its base's root. ``write`` puts in CASE/root only the files that differ
from BASE (a path under tests/, e.g. ``roots/kubeadm-healthy-v2`` or
``cases/_bases/rocky-9.3-bls-two-kernels``), lists what BASE has and ROOT lacks under
``remove:`` and ROOT's empty directories under ``dirs:``, keeps expect.yaml's other keys
and comments, and checks that the case builds back to ROOT exactly (files, bytes,
symlinks, modes). The overlays of issue 10 were made this way from the full roots the
cases had.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OVERLAY_KEYS = ("base:", "remove:", "dirs:")


def _topmost(paths: list[str]) -> list[str]:
    out: list[str] = []
    for path in sorted(paths):
        if not out or not path.startswith(out[-1] + "/"):
            out.append(path)
    return out


def _expect_lines(old: list[str], base: str, remove: list[str], dirs: list[str]) -> list[str]:
    """expect.yaml with its overlay keys replaced, after its leading comment."""
    kept: list[str] = []
    skipping = False
    for line in old:
        if line.startswith(OVERLAY_KEYS):
            skipping = True
            continue
        if skipping and line.startswith((" ", "-")):
            continue
        skipping = False
        kept.append(line)
    head = [f"base: {base}\n"]
    head += ["remove:\n", *[f"  - /{p}\n" for p in remove]] if remove else []
    head += ["dirs:\n", *[f"  - /{p}\n" for p in dirs]] if dirs else []
    i = 0
    while i < len(kept) and (kept[i].startswith("#") or not kept[i].strip()):
        i += 1
    return kept[:i] + head + kept[i:]


def write(root: Path, case: Path, base: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # a copy: ROOT may be the case's own root/, which is about to be replaced
        source = Path(tmp) / "root"
        shutil.copytree(root, source, symlinks=True)
        return _write(source, case, base)


def _write(root: Path, case: Path, base: str) -> int:
    from tests.helpers import TESTS, materialize_case, tree_entries

    if not (TESTS / base / "root").is_dir():
        print(f"{TESTS / base / 'root'}: no such base root", file=sys.stderr)
        return 2
    want = tree_entries(root)
    base_entries = tree_entries(TESTS / base / "root")

    def is_dir(entry: tuple[str, str | bytes, int]) -> bool:
        return entry[0] == "dir"

    remove = _topmost(
        [p for p, e in base_entries.items() if p not in want or is_dir(want[p]) != is_dir(e)]
    )

    def removed(path: str) -> bool:
        return any(path == r or path.startswith(r + "/") for r in remove)

    ship = [
        p for p, e in want.items() if not is_dir(e) and (removed(p) or base_entries.get(p) != e)
    ]
    dirs = [
        p
        for p, e in want.items()
        if is_dir(e)
        and not any(q.startswith(p + "/") for q in want)
        and (removed(p) or p not in base_entries)
    ]
    expect = case / "expect.yaml"
    old = expect.read_text(encoding="utf-8").splitlines(True) if expect.is_file() else []
    if (case / "root").exists():
        shutil.rmtree(case / "root")
    case.mkdir(parents=True, exist_ok=True)
    for path in ship:
        source, target = root / path, case / "root" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    expect.write_text("".join(_expect_lines(old, base, remove, dirs)), encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        got = tree_entries(materialize_case(case, Path(tmp)))
    differ = sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p))
    if differ:
        print(f"{case}: builds a different root at {differ[:10]}", file=sys.stderr)
        return 1
    print(f"{case}: {len(ship)} files, {len(remove)} removed, {len(dirs)} empty directories")
    return 0


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REPO))
    if len(argv) == 3 and argv[0] == "build":
        from tests.helpers import materialize_case

        print(materialize_case(Path(argv[1]), Path(argv[2])))
        return 0
    if len(argv) == 4 and argv[0] == "write":
        return write(Path(argv[1]), Path(argv[2]), argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
