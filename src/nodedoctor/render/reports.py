"""Read reports back from the JSON contract (``nodedoctor/report/v1``).

Reports come from other machines (Ansible runs, bundles, DaemonSets), so they are untrusted:
every field is type-checked, and a malformed report is a ``ReportFormatError`` that names
the field, never a traceback or a half-read report.
"""

from __future__ import annotations

from typing import Any

from nodedoctor._record import record
from nodedoctor.model import Evidence, Finding, FixHint, Report, Severity, Skipped

SCHEMA = Report.SCHEMA
#: What a batch check writes for a root it could not open, and the Ansible role saves for a
#: host it could not check: the node is on the page as not checked, never as healthy.
NOT_CHECKED_SCHEMA = "nodedoctor/batch-error/v1"
#: Lists of reports inside lists that :func:`reports_from_document` follows.
MAX_LIST_DEPTH = 64


@record
class NotChecked:
    """A node nodedoctor could not check (a root refused, a bundle unsafe): ``node`` is its
    name (the host, else the root given), ``error`` why."""

    node: str
    error: str


class ReportFormatError(ValueError):
    """The document is not a nodedoctor report; the message names the field."""


def _str(value: Any, where: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ReportFormatError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportFormatError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportFormatError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReportFormatError(f"{where}: expected a number, got {type(value).__name__}")
    return float(value)


def _severity(value: Any, where: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise ReportFormatError(f"{where}: unknown severity {value!r}") from None


def _evidence(data: Any, where: str) -> Evidence:
    d = _dict(data, where)
    line = d.get("line")
    if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
        raise ReportFormatError(f"{where}.line: expected an integer")
    return Evidence(_str(d.get("source"), f"{where}.source"), _str(d.get("text"), where, ""), line)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_str(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def _fix(data: Any, where: str) -> FixHint | None:
    if data is None:
        return None
    d = _dict(data, where)
    summary = d.get("summary")
    if summary is None and not d.get("available"):
        return None
    return FixHint(
        summary=_str(summary, f"{where}.summary", ""),
        available=bool(d.get("available")),
        files=_strings(d.get("files"), f"{where}.files"),
        reboot=bool(d.get("reboot")),
        restart=_strings(d.get("restart"), f"{where}.restart"),
        commands=_strings(d.get("commands"), f"{where}.commands"),
    )


def _finding(data: Any, where: str) -> Finding:
    d = _dict(data, where)
    return Finding(
        rule=_str(d.get("rule"), f"{where}.rule"),
        severity=_severity(d.get("severity"), f"{where}.severity"),
        title=_str(d.get("title"), f"{where}.title", ""),
        message=_str(d.get("message"), f"{where}.message", ""),
        evidence=tuple(
            _evidence(e, f"{where}.evidence[{i}]")
            for i, e in enumerate(_list(d.get("evidence"), f"{where}.evidence"))
        ),
        fix=_fix(d.get("fix"), f"{where}.fix"),
        impact=_str(d.get("impact"), f"{where}.impact", ""),
    )


def report_from_json(data: Any, where: str = "report") -> Report:
    """A ``Report`` from its JSON form.

    >>> r = report_from_json({"schema": "nodedoctor/report/v1", "node": {"hostname": "n1"},
    ...     "findings": [{"rule": "swap-enabled", "severity": "error", "title": "swap on",
    ...                   "message": "", "evidence": [{"source": "/proc/swaps", "text": "x"}]}],
    ...     "skipped": [], "passed": ["kubepods-invalid"]})
    >>> r.node["hostname"], r.findings[0].rule, r.passed
    ('n1', 'swap-enabled', ('kubepods-invalid',))
    """
    d = _dict(data, where)
    schema = d.get("schema")
    if schema != SCHEMA:
        raise ReportFormatError(f"{where}.schema: expected {SCHEMA!r}, got {schema!r}")
    tool = d.get("tool") if isinstance(d.get("tool"), dict) else {}
    node = _dict(d.get("node") or {}, f"{where}.node")
    findings = tuple(
        _finding(f, f"{where}.findings[{i}]")
        for i, f in enumerate(_list(d.get("findings"), f"{where}.findings"))
    )
    skipped = tuple(
        Skipped(
            _str(_dict(s, f"{where}.skipped[{i}]").get("rule"), f"{where}.skipped[{i}].rule"),
            _str(s.get("reason"), f"{where}.skipped[{i}].reason", ""),
        )
        for i, s in enumerate(_list(d.get("skipped"), f"{where}.skipped"))
    )
    passed = _strings(d.get("passed"), f"{where}.passed")
    checked = list(passed) + [s.rule for s in skipped]
    checked += [f.rule for f in findings if f.rule not in checked]
    if not checked:
        # A document that names no rule at all ({"schema": ...} alone) is no check of a
        # node: shown as healthy it would hide the node.
        raise ReportFormatError(f"{where}: names no rule passed, skipped or found")
    return Report(
        tool_version=_str((tool or {}).get("version"), f"{where}.tool.version", "unknown"),
        node=node,
        findings=findings,
        skipped=skipped,
        passed=passed,
        duration_seconds=_number(d.get("duration_seconds"), f"{where}.duration_seconds"),
        timestamp=_number(d.get("timestamp"), f"{where}.timestamp"),
        rules_checked=tuple(dict.fromkeys(checked)),
        language=_str(d.get("language"), f"{where}.language", "en"),
    )


def reports_from_document(data: Any, where: str, depth: int = 0) -> list[Report]:
    """Every report in a JSON document: a report, a list of reports, or a wrapper with a
    ``report`` key (what the Ansible module returns), or a list of such wrappers; lists in
    lists are followed :data:`MAX_LIST_DEPTH` deep (a document from elsewhere is untrusted).

    >>> reports_from_document([[[]]], "x", depth=MAX_LIST_DEPTH - 1)
    Traceback (most recent call last):
    ...
    nodedoctor.render.reports.ReportFormatError: x[0]: lists nested deeper than 64
    """
    if isinstance(data, list):
        if depth >= MAX_LIST_DEPTH:
            raise ReportFormatError(f"{where}: lists nested deeper than {MAX_LIST_DEPTH}")
        out: list[Report] = []
        for i, item in enumerate(data):
            out += reports_from_document(item, f"{where}[{i}]", depth + 1)
        return out
    d = _dict(data, where)
    if "schema" not in d and isinstance(d.get("report"), dict):
        return [report_from_json(d["report"], f"{where}.report")]
    return [report_from_json(d, where)]


def not_checked_from_json(data: Any, where: str) -> NotChecked | None:
    """The node a ``nodedoctor/batch-error/v1`` document names; ``None`` for any other
    document.

    >>> not_checked_from_json({"schema": "nodedoctor/batch-error/v1", "root": "/mnt/n7",
    ...     "exit": 2, "error": "/mnt/n7 does not look like a node's root"}, "x")
    NotChecked(node='/mnt/n7', error="/mnt/n7 does not look like a node's root")
    """
    if not isinstance(data, dict) or data.get("schema") != NOT_CHECKED_SCHEMA:
        return None
    host, root = data.get("host"), data.get("root")
    node = host if isinstance(host, str) and host else root
    return NotChecked(
        _str(node, f"{where}.root", "unknown node"), _str(data.get("error"), f"{where}.error", "")
    )
