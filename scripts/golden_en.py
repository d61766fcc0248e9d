"""English output, recorded: what people read from nodedoctor in English, for every test root
and rule case, every runbook, every command's help (issue 16: making the texts translatable
must leave English byte-identical). tests/test_golden_en.py compares a run with the record.

    .venv/bin/python scripts/golden_en.py           # compare; exit 1 and name what differs
    .venv/bin/python scripts/golden_en.py --write   # record (after a deliberate change)

The record is tests/golden/en/<name>.txt. A check's text report is taken at 80 columns
without colour; its JSON is the findings' texts (rule, severity, title, message, impact, fix),
without the run's time; the root's temporary path is written ``<ROOT>``. The HTML pages are
tests/golden/en/html-<name>.html: one node's page of the roots in :data:`HTML_ROOTS`, and the
fleet page of every root's report (``html-fleet``), without the time it was generated.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
GOLDEN = REPO / "tests/golden/en"
#: The roots whose single-node HTML page is recorded (errors, warnings, fixes, hints).
HTML_ROOTS = ("kubekey-teardown-calico", "rpi-os-bookworm-stub-edited")
_GENERATED = re.compile(r" · generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")
COMMANDS = ("check", "fix", "clean", "collect", "report", "why", "rules", "explain", "journal")


def _run(argv: list[str]) -> str:
    from nodedoctor.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's --help
            code = exc.code if isinstance(exc.code, int) else 2
    return f"{out.getvalue()}[exit {code}]\n"


def _findings_json(text: str) -> str:
    keep = ("rule", "severity", "title", "message", "impact", "fix")
    lines = text.rsplit("[exit", 1)[0]
    data = json.loads(lines)
    findings = [{k: f[k] for k in keep if k in f} for f in data["findings"]]
    skipped = data.get("skipped", [])
    return json.dumps({"findings": findings, "skipped": skipped}, indent=2, ensure_ascii=False)


def _targets() -> Iterator[tuple[str, Path, list[str]]]:
    from tests.helpers import (
        ROOTS,
        case_dirs,
        case_kubernetes_version,
        case_profile,
        case_root,
    )

    for root in sorted(ROOTS.iterdir()):
        if (root / "root").is_dir():
            yield f"root-{root.name}", root / "root", []
    for case in case_dirs():
        options: list[str] = []
        profile = case_profile(case)
        if profile:
            options += ["--profile", profile]
        version = case_kubernetes_version(case)
        if version:
            options += ["--kubernetes-version", version]
        yield f"case-{case.parent.name}-{case.name}", case_root(case), options


def _html_pages() -> Iterator[tuple[str, str]]:
    """The recorded HTML pages: ``html-root-<name>.html`` and ``html-fleet.html``."""
    roots = [(name, root) for name, root, _opts in _targets() if name.startswith("root-")]
    with tempfile.TemporaryDirectory() as tmp:
        reports = []
        for name, root in roots:
            where = str(root)
            if name[len("root-") :] in HTML_ROOTS:
                page = _run(["check", "--root", where, "--format", "html"])
                yield f"html-{name}.html", page.replace(where, "<ROOT>")
            path = Path(tmp) / f"{name}.json"
            _run(["check", "--root", where, "--format", "json", "-o", str(path)])
            path.write_text(path.read_text(encoding="utf-8").replace(where, "<ROOT>"))
            reports.append(str(path))
        page = _run(["report", *reports])
        yield "html-fleet.html", _GENERATED.sub(" · generated <TIME>", page)


def outputs() -> Iterator[tuple[str, str]]:
    """(name, English text) of everything recorded."""
    from nodedoctor.i18n import set_language
    from nodedoctor.rules import all_rules

    os.environ.update({"COLUMNS": "80", "NO_COLOR": "1", "LANG": "C.UTF-8", "LANGUAGE": ""})
    os.environ.pop("LC_ALL", None)
    os.environ.pop("LC_MESSAGES", None)
    set_language(None)
    for name, root, options in _targets():
        where = str(root)
        text = _run(["check", "--root", where, *options])
        yield f"{name}.check", text.replace(where, "<ROOT>")
        raw = _run(["check", "--root", where, *options, "--format", "json"])
        yield f"{name}.json", _findings_json(raw).replace(where, "<ROOT>")
        if name.startswith("root-"):
            yield f"{name}.fix", _run(["fix", "--root", where, *options]).replace(where, "<ROOT>")
            clean = _run(["clean", "--root", where]).replace(where, "<ROOT>")
            yield f"{name}.clean", clean
    yield from _html_pages()
    for rule in all_rules():
        yield f"explain-{rule.id}", _run(["explain", rule.id])
    yield "rules", _run(["rules"])
    yield "help", _run(["--help"])
    for command in COMMANDS:
        yield f"help-{command}", _run([command, "--help"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="record the outputs")
    args = parser.parse_args(argv)
    seen: set[str] = set()
    differ: list[str] = []
    if args.write:
        GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in outputs():
        seen.add(name)
        path = GOLDEN / (name if name.endswith(".html") else f"{name}.txt")
        if args.write:
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            differ.append(name)
    recorded = [p.stem for p in GOLDEN.glob("*.txt")] + [p.name for p in GOLDEN.glob("*.html")]
    stale = sorted(name for name in recorded if name not in seen)
    if args.write:
        for name in stale:
            (GOLDEN / (name if name.endswith(".html") else f"{name}.txt")).unlink()
        print(f"recorded {len(seen)} outputs in {GOLDEN.relative_to(REPO)}")
        return 0
    for name in differ:
        print(f"differs from the record: {name}")
    for name in stale:
        print(f"recorded but no longer produced: {name}")
    return 1 if differ or stale else 0


if __name__ == "__main__":
    sys.exit(main())
