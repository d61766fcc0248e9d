"""``nodedoctor report REPORT.json... [-o report.html]``: one page for a whole fleet.

Reads JSON reports as ``check --format json`` writes them, the JSON Lines of a batch check
(``check --root A B ... --format json``), what the Ansible module returns
(``{"report": {...}}``) or lists of those, and bundles (``.tar.gz`` from ``nodedoctor
collect``, checked here), and merges them into one self-contained HTML page (or one JUnit
document with a testsuite per node).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from nodedoctor.cli.common import EXIT_OK, UsageError
from nodedoctor.i18n import _

if TYPE_CHECKING:
    from nodedoctor.model import Report
    from nodedoctor.render.reports import NotChecked

#: Reports are small; a file larger than this is not one (and would not render usefully).
MAX_REPORT_BYTES = 64 * 1024 * 1024


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help=_("merge many nodes' JSON reports into one HTML page (node x rule matrix)"),
    )
    p.add_argument(
        "reports",
        nargs="+",
        metavar="REPORT.json",
        help=_("JSON reports, JSON Lines of a batch check, or bundles (.tar.gz); '-': stdin"),
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help=_("write the page to FILE atomically instead of stdout"),
    )
    p.add_argument(
        "--format",
        choices=["html", "junit"],
        default="html",
        help=_("output format (default: html)"),
    )
    p.add_argument("--title", default="nodedoctor fleet report", help=_("the page's title"))
    p.set_defaults(func=run)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read(MAX_REPORT_BYTES + 1)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; expected a JSON report") from None


def _json(where: str, text: str) -> Any:
    """One JSON document; nesting is checked first (``json`` recurses once per level), so a
    hostile file is a usage error like any other malformed one. ``ValueError`` when it is not
    JSON."""
    from nodedoctor.parsers import LimitError
    from nodedoctor.parsers.limits import check_json_depth

    try:
        check_json_depth(text)
    except LimitError as exc:
        raise UsageError(f"{where}: {exc}; not a nodedoctor report") from None
    return json.loads(text)


def _documents(path: str, text: str) -> list[tuple[str, Any]]:
    """The JSON documents in ``text``: one, or one per line (JSON Lines)."""
    try:
        return [(path, _json(path, text))]
    except ValueError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2:
            raise UsageError(f"{path}: not JSON: {whole}") from None
        out = []
        for number, line in lines:
            where = f"{path}:{number}"
            try:
                out.append((where, _json(where, line)))
            except ValueError as exc:
                raise UsageError(f"{where}: not JSON: {exc}") from None
        return out


def _is_bundle(path: str) -> bool:
    return path.endswith((".tar.gz", ".tgz")) and os.path.isfile(path)


def _check_bundle(path: str) -> Report | NotChecked:
    """The report of bundle ``path``, or the node as not checked when it cannot be opened
    (unsafe, or none of a node's marks): the page shows it, never as healthy."""
    from nodedoctor import engine
    from nodedoctor.cli.common import open_target
    from nodedoctor.facts import Facts
    from nodedoctor.render.reports import NotChecked
    from nodedoctor.rules import all_rules

    try:
        root = open_target("bundle", path)
    except UsageError as exc:
        return NotChecked(path, str(exc))
    try:
        return engine.run(Facts(root, profile=None), engine.select_rules(all_rules()))
    finally:
        close = getattr(root, "close", None)
        if close is not None:
            close()


def run(args: argparse.Namespace) -> int:
    from nodedoctor.render.reports import (
        NotChecked,
        ReportFormatError,
        not_checked_from_json,
        reports_from_document,
    )

    reports: list[Report] = []
    not_checked: list[NotChecked] = []
    for path in args.reports:
        if _is_bundle(path):
            checked = _check_bundle(path)
            if isinstance(checked, NotChecked):
                not_checked.append(checked)
            else:
                reports.append(checked)
            continue
        text = _read(path)
        if len(text) > MAX_REPORT_BYTES:
            raise UsageError(f"{path}: larger than {MAX_REPORT_BYTES} bytes; not a report")
        for where, document in _documents(path, text):
            try:
                unchecked = not_checked_from_json(document, where)
                if unchecked is None:
                    reports += reports_from_document(document, where)
                else:
                    not_checked.append(unchecked)
            except ReportFormatError as exc:
                raise UsageError(f"{exc}; expected a nodedoctor JSON report") from None
    for node in not_checked:
        print(f"nodedoctor: {node.node} was not checked: {node.error}", file=sys.stderr)
    if args.format == "junit":
        from nodedoctor.render.junit import render_junit_many

        text = render_junit_many(reports, not_checked)
    else:
        from nodedoctor.render.html import render_html_many

        text = render_html_many(reports, title=args.title, not_checked=not_checked)
    if args.output:
        from nodedoctor.cli.output import write_atomic

        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK
