"""The report's vocabulary: severities, evidence, findings, skips and the report itself.

Everything here is a frozen value: rules produce them, renderers and engines read them.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from nodedoctor._record import field, record

if TYPE_CHECKING:
    from nodedoctor.remedies.steps import Remedy


class Severity(enum.Enum):
    """How bad a finding is. ``error``: the kubelet or pods will fail; ``warning``: degraded,
    risky or soon to fail; ``info``: worth knowing."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


@record
class Evidence:
    """What made a rule fire: a file with its line and text, or a command and its output."""

    source: str
    text: str
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.line is not None:
            out["line"] = self.line
        out["text"] = self.text
        return out


@record
class FixHint:
    """How the finding is fixed, as the report tells it to a person (the advice); what
    ``nodedoctor fix`` does is the finding's remedy."""

    summary: str
    #: ``nodedoctor fix`` changes the node for it: set by the engine from the finding's
    #: remedy, whatever the rule wrote.
    available: bool = False
    files: tuple[str, ...] = ()
    reboot: bool = False
    restart: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    #: ``nodedoctor clean`` removes what was found (the rule's ``clean_removes``); set by the
    #: engine, not in the JSON.
    clean: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "summary": self.summary,
            "files": list(self.files),
            "reboot": self.reboot,
            "restart": list(self.restart),
            "commands": list(self.commands),
        }


@record
class Issue:
    """What a rule's ``check`` returns for each problem; the engine adds the rule's id."""

    title: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    fix: FixHint | None = None
    severity: Severity | None = None
    impact: str = ""
    #: The change ``nodedoctor fix`` makes for it, decided with the finding (no remedy: the
    #: tool has no fix for it).
    remedy: Remedy | None = None


@record
class Finding:
    rule: str
    severity: Severity
    title: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    fix: FixHint | None = None
    impact: str = ""
    #: Not in the report's JSON: the fix engine takes it from the finding of its own run.
    remedy: Remedy | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "evidence": [e.to_json() for e in self.evidence],
        }
        if self.impact:
            out["impact"] = self.impact
        out["fix"] = self.fix.to_json() if self.fix else {"available": False}
        return out


@record
class Skipped:
    """A rule that could not be evaluated, and why (never a silent pass)."""

    rule: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "reason": self.reason}


@record
class Report:
    tool_version: str
    node: dict[str, Any]
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    passed: tuple[str, ...]
    duration_seconds: float = 0.0
    timestamp: float = 0.0
    rules_checked: tuple[str, ...] = field(default=())
    #: The command-line options that named the checked node and how it was read (``--root
    #: DIR`` or ``--bundle FILE``, ``--profile P``), which every nodedoctor command the report
    #: suggests carries; None when not known (a report read back from JSON: its
    #: ``node.root`` tells the node). Not in the JSON.
    node_options: tuple[str, ...] | None = None
    #: The language of the texts for people in the report (nodedoctor.i18n: ``en`` or
    #: ``zh_CN``); what is not translated yet stays English.
    language: str = "en"

    SCHEMA = "nodedoctor/report/v1"

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "tool": {"name": "nodedoctor", "version": self.tool_version},
            "language": self.language,
            "node": self.node,
            "findings": [f.to_json() for f in self.findings],
            "skipped": [s.to_json() for s in self.skipped],
            "passed": list(self.passed),
            "summary": {
                "error": self.count(Severity.ERROR),
                "warning": self.count(Severity.WARNING),
                "info": self.count(Severity.INFO),
                "passed": len(self.passed),
                "skipped": len(self.skipped),
            },
            "duration_seconds": round(self.duration_seconds, 4),
            "timestamp": self.timestamp,
        }
