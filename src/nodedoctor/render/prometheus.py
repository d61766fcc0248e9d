"""The Prometheus text exposition format, for the node exporter's textfile collector.

Write it with ``check --format prometheus --output DIR/nodedoctor.prom``: the file is
replaced atomically, as the node exporter's docs ask of textfile writers. A finding is one
series that exists while the problem does (``nodedoctor_finding{rule,severity} 1``); two
findings of one rule and severity are one series, since the collector rejects a file with
duplicate series. No sample carries a timestamp: the textfile collector refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable

from nodedoctor.model import Report, Severity


def escape_label(value: str) -> str:
    r"""A label value as the exposition format wants it.

    >>> escape_label('a"b\\c\nd')
    'a\\"b\\\\c\\nd'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(name: str, kind: str, help_text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


def render_prometheus(report: Report, color: bool = False) -> str:
    findings = sorted({(f.rule, f.severity.value) for f in report.findings})
    lines: list[str] = []
    lines += _metric(
        "nodedoctor_finding",
        "gauge",
        "A problem nodedoctor found on this node (the series exists while it lasts).",
        (f"nodedoctor_finding{_labels(rule=r, severity=s)} 1" for r, s in findings),
    )
    lines += _metric(
        "nodedoctor_findings",
        "gauge",
        "Number of findings on this node by severity.",
        (
            f"nodedoctor_findings{_labels(severity=s.value)} {report.count(s)}"
            for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        ),
    )
    lines += _metric(
        "nodedoctor_rules_checked",
        "gauge",
        "Number of rules nodedoctor evaluated in its last run.",
        [f"nodedoctor_rules_checked {len(report.rules_checked)}"],
    )
    lines += _metric(
        "nodedoctor_rules_skipped",
        "gauge",
        "Number of rules that lacked the facts they need in the last run.",
        [f"nodedoctor_rules_skipped {len(report.skipped)}"],
    )
    lines += _metric(
        "nodedoctor_check_duration_seconds",
        "gauge",
        "How long the last check took.",
        [f"nodedoctor_check_duration_seconds {report.duration_seconds:.6f}"],
    )
    lines += _metric(
        "nodedoctor_last_run_timestamp_seconds",
        "gauge",
        "When the last check ran, in seconds since the epoch.",
        [f"nodedoctor_last_run_timestamp_seconds {report.timestamp:.3f}"],
    )
    lines += _metric(
        "nodedoctor_info",
        "gauge",
        "The nodedoctor version that wrote this file.",
        [f"nodedoctor_info{_labels(version=report.tool_version)} 1"],
    )
    return "\n".join(lines) + "\n"
