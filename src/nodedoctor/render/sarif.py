"""SARIF 2.1.0: one run whose driver lists every rule with its documentation, and one result
per finding located at the evidence files and lines.

Files are given relative to the ``NODEROOT`` base (the node's ``/``, or the ``--root``
directory), so a viewer can resolve them against wherever the node's files are. Evidence
that is not a file (a command's output, a built-in default, a deployer's behaviour) is a
logical location named by its source, with the text as the location's message.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from nodedoctor.model import Evidence, Finding, Report, Severity
from nodedoctor.rules import all_rules
from nodedoctor.rules.base import DOC_SECTIONS, Rule
from nodedoctor.rules.families import family_of

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _help(rule: Rule) -> dict[str, str]:
    doc = rule.doc
    parts_text = [doc.summary] if doc.summary else []
    parts_md = [doc.summary] if doc.summary else []
    for name in DOC_SECTIONS:
        body = doc.section(name)
        if body:
            parts_text.append(f"{name.upper()}\n{body}")
            parts_md.append(f"## {name}\n\n{body}")
    text = "\n\n".join(parts_text) or rule.title
    return {"text": text, "markdown": "\n\n".join(parts_md) or rule.title}


def _descriptor(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "help": _help(rule),
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": list(rule.tags), "family": family_of(rule)},
    }
    if rule.doc.summary:
        out["fullDescription"] = {"text": rule.doc.summary}
    if rule.aliases:
        out["deprecatedIds"] = list(rule.aliases)
    return out


def _location(ev: Evidence) -> dict[str, Any]:
    if ev.source.startswith("/"):
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": quote(ev.source.lstrip("/")), "uriBaseId": "NODEROOT"}
        }
        if ev.line is not None and ev.line >= 1:
            physical["region"] = {"startLine": ev.line, "snippet": {"text": ev.text}}
            return {"physicalLocation": physical}
        return {"physicalLocation": physical, "message": {"text": ev.text or ev.source}}
    return {
        "logicalLocations": [{"name": ev.source}],
        "message": {"text": ev.text or ev.source},
    }


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "level": _LEVEL[f.severity],
        "message": {"text": f"{f.title}: {f.message}" if f.message else f.title},
        "locations": [_location(ev) for ev in f.evidence],
    }
    if f.rule in index:
        out["ruleIndex"] = index[f.rule]
    props: dict[str, Any] = {}
    if f.impact:
        props["impact"] = f.impact
    if f.fix is not None:
        props["fix"] = f.fix.to_json()
    if props:
        out["properties"] = props
    return out


def sarif_log(report: Report) -> dict[str, Any]:
    rules = list(all_rules())
    index = {r.id: i for i, r in enumerate(rules)}
    root = str(report.node.get("root") or "/")
    root_uri = "file://" + quote(root.rstrip("/") + "/")
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "nodedoctor",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "rules": [_descriptor(r) for r in rules],
            }
        },
        "originalUriBaseIds": {"NODEROOT": {"uri": root_uri}},
        "automationDetails": {"id": f"nodedoctor/{report.node.get('hostname') or 'node'}/"},
        "results": [_result(f, index) for f in report.findings],
        "invocations": [
            {
                "executionSuccessful": not any(f.rule == "internal-error" for f in report.findings),
                "toolExecutionNotifications": [
                    {
                        "level": "note",
                        "message": {"text": f"skipped: {s.reason}"},
                        "descriptor": {"id": s.rule},
                    }
                    for s in report.skipped
                ],
            }
        ],
        "properties": {"node": report.node},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render_sarif(report: Report, color: bool = False) -> str:
    return json.dumps(sarif_log(report), indent=2) + "\n"
