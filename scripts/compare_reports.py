"""Every report on every root under tests/, before and after a change, byte for byte.

    python scripts/compare_reports.py snapshot DIR   # write every output into DIR
    python scripts/compare_reports.py compare OLD NEW  # list what differs (exit 1 if any)

A refactor must leave these identical (issue 10); where a change is intended, the note that
lands it names the outputs that differ. For each root (tests/roots/*, tests/fix/cases/*,
tests/cases/<rule>/<case>, with the case's ``profile:``) it records ``check`` in every
format, the ``fix`` plan (text and json) and the ``clean`` plan (text and json), with the
root's path replaced by ``<ROOT>`` so that a root rebuilt elsewhere (a case overlay) compares
equal. Outputs are produced in-process (no interpreter start per run).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
FROZEN_TIME = 1_800_000_000.0
CHECK_FORMATS = ("text", "json", "junit", "sarif", "npd", "prometheus", "html")


@contextlib.contextmanager
def _roots() -> Iterator[list[tuple[str, Path, str | None]]]:
    """(name, root directory, profile) of every test root; case overlays are built in a
    temporary directory that lives as long as the context."""
    sys.path.insert(0, str(REPO))
    out: list[tuple[str, Path, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="nodedoctor-compare-") as tmp:
        for scenario in sorted((TESTS / "roots").glob("*/root")):
            out.append((f"roots/{scenario.parent.name}", scenario, _profile(scenario.parent)))
        for case in sorted((TESTS / "fix" / "cases").glob("*/root")):
            out.append((f"fix/{case.parent.name}", case, _profile(case.parent)))
        # tests/cases/_bases holds the roots that cases name as base:, not cases
        cases = (p for p in (TESTS / "cases").glob("*/*") if not p.parent.name.startswith("_"))
        for case in sorted(p for p in cases if p.is_dir()):
            root = _case_root(case, Path(tmp))
            out.append((f"cases/{case.parent.name}/{case.name}", root, _profile(case)))
        yield out


def _case_root(case: Path, tmp: Path) -> Path:
    if (case / "root").is_dir() and not _expect(case).get("base"):
        return case / "root"
    from tests.helpers import materialize_case

    return materialize_case(case, tmp / case.parent.name / case.name)


def _expect(case: Path) -> dict[str, object]:
    for name in ("expect.yaml", "case.yaml"):
        path = case / name
        if path.is_file():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return data if isinstance(data, dict) else {}
    return {}


def _profile(case: Path) -> str | None:
    """The options the case's node is checked with: ``--profile`` and
    ``--kubernetes-version``, space-separated (``None``: none)."""
    expect = _expect(case)
    words = [*(["--profile", str(expect["profile"])] if expect.get("profile") else [])]
    if expect.get("kubernetes_version"):
        words += ["--kubernetes-version", str(expect["kubernetes_version"])]
    return " ".join(words) or None


def _run(argv: list[str]) -> tuple[int, bytes, bytes]:
    from nodedoctor.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    err_text = io.TextIOWrapper(err, encoding="utf-8", newline="")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out_text, err_text
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        out_text.flush()
        err_text.flush()
        sys.stdout, sys.stderr = saved
    return code, out.getvalue(), err.getvalue()


def _freeze_clock() -> None:
    """Timestamps and durations (JSON, JUnit, Prometheus, HTML) as constants, so that only
    what a change did shows."""
    import time

    gmtime = time.gmtime
    time.time = lambda: FROZEN_TIME
    time.perf_counter = lambda: 0.0
    time.gmtime = lambda secs=None: gmtime(FROZEN_TIME if secs is None else secs)


def snapshot(dest: Path) -> int:
    _freeze_clock()
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    with _roots() as roots:
        for name, root, profile in roots:
            where = ["--root", str(root)]
            if profile:
                where += profile.split()
            runs = {f"check.{fmt}": ["check", *where, "--format", fmt] for fmt in CHECK_FORMATS}
            runs |= {f"fix.{fmt}": ["fix", *where, "--format", fmt] for fmt in ("text", "json")}
            runs |= {
                f"clean.{fmt}": ["clean", "--root", str(root), "--format", fmt]
                for fmt in ("text", "json")
            }
            for label, argv in runs.items():
                code, out, err = _run(argv)
                blob = b"exit %d\n--- stdout\n%b\n--- stderr\n%b" % (code, out, err)
                blob = blob.replace(str(root).encode(), b"<ROOT>")
                path = dest / name / label
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(blob)
                count += 1
    print(f"{count} outputs written to {dest}")
    return 0


def compare(old: Path, new: Path) -> int:
    old_files = {p.relative_to(old) for p in old.rglob("*") if p.is_file()}
    new_files = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    differ = 0
    for rel in sorted(old_files ^ new_files):
        print(f"only in {'old' if rel in old_files else 'new'}: {rel}")
        differ += 1
    for rel in sorted(old_files & new_files):
        a, b = (old / rel).read_bytes(), (new / rel).read_bytes()
        if a != b:
            differ += 1
            print(f"differs: {rel}")
            diff = difflib.unified_diff(
                a.decode(errors="replace").splitlines(),
                b.decode(errors="replace").splitlines(),
                lineterm="",
                n=1,
            )
            for line in list(diff)[2:40]:
                print(f"    {line[:200]}")
    sys.stdout.flush()
    print(f"{len(old_files & new_files)} outputs compared, {differ} differ")
    return 1 if differ else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "snapshot":
        return snapshot(Path(argv[1]))
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
