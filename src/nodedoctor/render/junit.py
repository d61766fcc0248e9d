"""JUnit XML for CI systems: one testsuite per node, one testcase per rule checked.

A rule with findings is a ``<failure>`` (its message and evidence in the body), a skipped
rule is ``<skipped>`` with the reason, a rule that crashed is an ``<error>``. The output
follows the Jenkins xUnit plugin's ``junit-10.xsd``, the dialect Jenkins, GitLab and most
CI report viewers read (the suite validates it against that schema).
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from nodedoctor.model import Finding, Report
from nodedoctor.render.reports import NotChecked
from nodedoctor.rules import all_rules
from nodedoctor.rules.families import family_of_id
from nodedoctor.rules.internal_error import RULE as INTERNAL_ERROR

# Characters XML 1.0 cannot carry at all; evidence is raw file text and may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    r"""``text`` with the characters XML 1.0 forbids shown as ``\xNN``.

    >>> xml_text("a\x00b")
    'a\\x00b'
    """
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def node_name(report: Report) -> str:
    node = report.node
    return str(node.get("hostname") or node.get("root") or "node")


def _finding_body(findings: Sequence[Finding]) -> str:
    lines: list[str] = []
    for f in findings:
        lines.append(f"{f.severity.value.upper()} {f.rule}: {f.title}")
        lines.append(f"  {f.message}")
        for ev in f.evidence:
            where = f"{ev.source}:{ev.line}" if ev.line else ev.source
            lines.append(f"  evidence {where}: {ev.text}")
        if f.fix is not None:
            lines.append(f"  fix {f.fix.summary}")
            lines += [f"    $ {c}" for c in f.fix.commands]
    return xml_text("\n".join(lines))


def _suite(report: Report) -> ET.Element:
    name = node_name(report)
    rules = all_rules()
    by_rule: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    skipped = {s.rule: s.reason for s in report.skipped}
    passed = set(report.passed)
    checked = list(report.rules_checked)
    # Findings of rules the report does not list as checked (reports read back from JSON,
    # internal errors) still become test cases.
    checked += [r for r in by_rule if r not in checked]
    per_case_time = report.duration_seconds / len(checked) if checked else 0.0

    suite = ET.Element("testsuite")
    failures = errors = skips = 0
    for rule_id in checked:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": xml_text(rule_id),
                "classname": xml_text(f"nodedoctor.{family_of_id(rule_id, rules)}"),
                "time": f"{per_case_time:.6f}",
            },
        )
        found = by_rule.get(rule_id)
        if found:
            tag = "error" if rule_id == INTERNAL_ERROR.id else "failure"
            worst = max(found, key=lambda f: f.severity.rank)
            more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
            el = ET.SubElement(
                case, tag, {"type": worst.severity.value, "message": xml_text(worst.title + more)}
            )
            el.text = _finding_body(found)
            if tag == "error":
                errors += 1
            else:
                failures += 1
        elif rule_id in skipped:
            ET.SubElement(case, "skipped", {"message": xml_text(skipped[rule_id])})
            skips += 1
        elif rule_id not in passed:
            # Checked, not passed, not skipped, no finding of its own: it crashed, and the
            # engine reported that under internal-error.
            ET.SubElement(
                case,
                "error",
                {"type": "internal-error", "message": f"{rule_id} crashed; see internal-error"},
            )
            errors += 1
    suite.attrib.update(
        {
            "name": xml_text(name),
            "tests": str(len(checked)),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": str(skips),
            "time": f"{report.duration_seconds:.6f}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(report.timestamp)),
            "hostname": xml_text(name),
        }
    )
    props = ET.Element("properties")
    node_props = {
        "nodedoctor.version": report.tool_version,
        "node.root": report.node.get("root"),
        "node.kernel": report.node.get("kernel"),
        "node.arch": report.node.get("arch"),
        "node.cgroup.mode": (report.node.get("cgroup") or {}).get("mode"),
    }
    for key, value in node_props.items():
        if value:
            ET.SubElement(props, "property", {"name": key, "value": xml_text(str(value))})
    suite.insert(0, props)
    return suite


def _unchecked_suite(node: NotChecked) -> ET.Element:
    """A node that could not be checked: one test case in error, saying why."""
    name = xml_text(node.node)
    suite = ET.Element(
        "testsuite",
        {"name": name, "tests": "1", "failures": "0", "errors": "1", "skipped": "0"},
    )
    suite.attrib.update({"time": "0", "hostname": name})
    case = ET.SubElement(suite, "testcase", {"name": "check", "classname": "nodedoctor"})
    ET.SubElement(case, "error", {"type": "not-checked", "message": xml_text(node.error)})
    return suite


def render_junit_many(reports: Sequence[Report], not_checked: Sequence[NotChecked] = ()) -> str:
    root = ET.Element("testsuites", {"name": "nodedoctor"})
    total = fails = errs = 0
    duration = 0.0
    for node in not_checked:
        root.append(_unchecked_suite(node))
        total += 1
        errs += 1
    for report in reports:
        suite = _suite(report)
        root.append(suite)
        total += int(suite.attrib["tests"])
        fails += int(suite.attrib["failures"])
        errs += int(suite.attrib["errors"])
        duration += report.duration_seconds
    root.attrib.update(
        {
            "tests": str(total),
            "failures": str(fails),
            "errors": str(errs),
            "time": f"{duration:.6f}",
        }
    )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(report: Report, color: bool = False) -> str:
    return render_junit_many([report])
