"""``nodedoctor report REPORT.json... [-o report.html]``: one page for a whole fleet.

Reads JSON reports as ``check --format json`` writes them, as the Ansible module returns
them (``{"report": {...}}``), or lists of either, and merges them into one self-contained
HTML page (or one JUnit document with a testsuite per node).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nodedoctor.cli.common import EXIT_OK, UsageError

#: Reports are small; a file larger than this is not one (and would not render usefully).
MAX_REPORT_BYTES = 64 * 1024 * 1024


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="merge many nodes' JSON reports into one HTML page (node x rule matrix)",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="JSON reports ('-': stdin)")
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the page to FILE atomically instead of stdout",
    )
    p.add_argument(
        "--format", choices=["html", "junit"], default="html", help="output format (default: html)"
    )
    p.add_argument("--title", default="nodedoctor fleet report", help="the page's title")
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


def run(args: argparse.Namespace) -> int:
    from nodedoctor.model import Report
    from nodedoctor.render.reports import ReportFormatError, reports_from_document

    reports: list[Report] = []
    for path in args.reports:
        text = _read(path)
        if len(text) > MAX_REPORT_BYTES:
            raise UsageError(f"{path}: larger than {MAX_REPORT_BYTES} bytes; not a report")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{path}: not JSON: {exc}") from None
        try:
            reports += reports_from_document(document, path)
        except ReportFormatError as exc:
            raise UsageError(f"{exc}; expected a nodedoctor JSON report") from None
    if args.format == "junit":
        from nodedoctor.render.junit import render_junit_many

        text = render_junit_many(reports)
    else:
        from nodedoctor.render.html import render_html_many

        text = render_html_many(reports, title=args.title)
    if args.output:
        from nodedoctor.cli.output import write_atomic

        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK
