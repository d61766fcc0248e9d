"""``nodedoctor report REPORT.json... [-o report.html]``: one page for a whole fleet.

Reads JSON reports as ``check --format json`` writes them, the JSON Lines of a batch check
(``check --root A B ... --format json``), what the Ansible module returns
(``{"report": {...}}``) or lists of those, and bundles (``.tar.gz`` from ``nodedoctor
collect``, checked here), and merges them into one self-contained HTML page (or one JUnit
document with a testsuite per node).

Reports come from other machines: each file is read as it comes, a JSON Lines file a line
at a time, every document within :data:`MAX_DOCUMENT_BYTES` and nested at most 64 deep. A
file that is not a report ends the run with one line naming it (and the line, in JSON Lines)
and exit 2; a bundle that cannot be opened is a node on the page, not checked.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from nodedoctor.cli.common import EXIT_FINDINGS, EXIT_OK, UsageError
from nodedoctor.i18n import _

if TYPE_CHECKING:
    from nodedoctor.model import Report
    from nodedoctor.render.reports import NotChecked

#: One JSON document (a report, the JSON Lines of one, a list of them): a node's report is
#: a few KB; ``json`` holds about five times the text as objects while it parses, so this
#: keeps a document under 100 MB of memory. A fleet larger than one list document holds
#: comes as JSON Lines, read a line at a time.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


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
    p.add_argument("--title", default=None, help=_("the page's title"))
    p.set_defaults(func=run)


def _json(where: str, raw: bytes) -> Any:
    """One JSON document; nesting is checked first (``json`` recurses once per level).
    ``LimitError`` when it nests too deep, ``ValueError`` when it is not JSON."""
    from nodedoctor.parsers.limits import check_json_depth

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            _("{where}: not UTF-8 text; expected a JSON report").format(where=where)
        ) from None
    check_json_depth(text)
    return json.loads(text)


def _refused(where: str, exc: Exception) -> UsageError:
    return UsageError(_("{where}: {error}; not a nodedoctor report").format(where=where, error=exc))


def _too_large(where: str) -> UsageError:
    return UsageError(
        _(
            "{where}: larger than {size} MiB; not a nodedoctor report (give a larger fleet as "
            "JSON Lines, one report a line)"
        ).format(where=where, size=MAX_DOCUMENT_BYTES // (1024 * 1024))
    )


def _lines(stream: IO[bytes], path: str) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of ``stream`` with their numbers, each at most
    :data:`MAX_DOCUMENT_BYTES`."""
    number = 0
    while True:
        raw = stream.readline(MAX_DOCUMENT_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_DOCUMENT_BYTES and not raw.endswith(b"\n"):
            raise _too_large(f"{path}:{number}")
        if raw.strip():
            yield number, raw


def _documents(path: str, stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """The JSON documents of ``stream``, read as they come: one document (``path``), or one
    per line (JSON Lines: ``path:N``), each within :data:`MAX_DOCUMENT_BYTES`. A first line
    that is JSON on its own starts JSON Lines; any other starts one document (indented, as
    ``check --format json`` writes it)."""
    from nodedoctor.parsers import LimitError

    lines = _lines(stream, path)
    first = next(lines, None)
    if first is None:
        raise UsageError(_("{where}: empty; expected a JSON report").format(where=path))
    number, raw = first
    document: Any = None
    deep: LimitError | None = None
    try:
        document = _json(path, raw)
    except LimitError as exc:
        deep = exc
    except ValueError:
        yield path, _whole(path, raw, stream)
        return
    second = next(lines, None)
    where = path if second is None else f"{path}:{number}"
    if deep is not None:
        raise _refused(where, deep)
    yield where, document
    if second is None:
        return
    for number, raw in itertools.chain([second], lines):
        where = f"{path}:{number}"
        try:
            yield where, _json(where, raw)
        except LimitError as exc:
            raise _refused(where, exc) from None
        except ValueError as exc:
            raise UsageError(
                _("{where}: not JSON: {error}").format(where=where, error=exc)
            ) from None


def _whole(path: str, first: bytes, stream: IO[bytes]) -> Any:
    """The one JSON document that starts with line ``first`` of ``stream``."""
    from nodedoctor.parsers import LimitError

    raw = first + stream.read(MAX_DOCUMENT_BYTES + 1 - len(first))
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise _too_large(path)
    try:
        return _json(path, raw)
    except LimitError as exc:
        raise _refused(path, exc) from None
    except ValueError as exc:
        raise UsageError(_("{where}: not JSON: {error}").format(where=path, error=exc)) from None


@contextlib.contextmanager
def _opened(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    with stream:
        yield stream


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
    unreadable: list[UsageError] = []
    for path in args.reports:
        if _is_bundle(path):
            checked = _check_bundle(path)
            if isinstance(checked, NotChecked):
                not_checked.append(checked)
            else:
                reports.append(checked)
            continue
        # An input that cannot be read is a node not checked, with why, not the end of the
        # page: the other nodes' reports still count (and the exit status says so).
        try:
            with _opened(path) as stream:
                try:
                    for where, document in _documents(path, stream):
                        try:
                            unchecked = not_checked_from_json(document, where)
                            if unchecked is None:
                                reports += reports_from_document(document, where)
                            else:
                                not_checked.append(unchecked)
                        except ReportFormatError as exc:
                            raise UsageError(
                                _("{error}; expected a nodedoctor JSON report").format(error=exc)
                            ) from None
                except OSError as exc:
                    raise UsageError(f"{path}: {exc.strerror or exc}") from None
        except UsageError as exc:
            unreadable.append(exc)
            not_checked.append(NotChecked(path, str(exc)))
    if unreadable and not reports and len(unreadable) == len(not_checked):
        raise unreadable[0]  # nothing could be read at all: a usage error, as before
    for node in not_checked:
        print(
            _("nodedoctor: {node} was not checked: {error}").format(
                node=node.node, error=node.error
            ),
            file=sys.stderr,
        )
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
    return EXIT_FINDINGS if not_checked else EXIT_OK
