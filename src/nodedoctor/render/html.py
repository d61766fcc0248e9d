"""One self-contained HTML page for a fleet: a node x rule matrix, counts per rule, filters
by severity, rule and node, and each cell opening the findings' evidence and fix.

Reports are untrusted input (they come from other machines), so every value is escaped
when the page is built, the script never turns data into markup (it only shows, hides and
clones elements that are already escaped), and a Content-Security-Policy allows nothing but
this page's own style and script, by hash: no external assets, no other script.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from nodedoctor.i18n import N_, _, language, listing, ngettext
from nodedoctor.model import Finding, Report, Severity
from nodedoctor.render import html_assets
from nodedoctor.render.hints import suggestions
from nodedoctor.render.reports import NotChecked
from nodedoctor.rules import all_rules
from nodedoctor.rules.families import family_of_id

_SEV_ORDER = (Severity.ERROR, Severity.WARNING, Severity.INFO)
_LETTER = {Severity.ERROR: "E", Severity.WARNING: "W", Severity.INFO: "I"}
#: A severity column's title (its letter is the same in every language).
_COLUMN_TITLE = {
    Severity.ERROR: N_("errors"),
    Severity.WARNING: N_("warnings"),
    Severity.INFO: N_("infos"),
}
#: A node's count of findings at a severity, on the single-node page.
_COUNTS = {
    Severity.ERROR: ("{n} error", "{n} errors"),
    Severity.WARNING: ("{n} warning", "{n} warnings"),
    Severity.INFO: ("{n} info", "{n} info"),
}


def _lang() -> str:
    """The ``lang`` attribute of the page: the language its words are in (``zh-CN``)."""
    return language().replace("_", "-")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


_CODE = re.compile(r"`([^`\n]+)`")


def _prose(value: Any) -> str:
    """A rule's or finding's text as HTML: escaped, with its Markdown inline code
    (`` `kubeadm reset` ``) as ``<code>`` instead of raw backquotes. Only the escaped text's
    backquoted runs are wrapped, so nothing a report holds can become markup.

    >>> _prose("run `rm -rf <dir>` & wait")
    'run <code>rm -rf &lt;dir&gt;</code> &amp; wait'
    """
    return _CODE.sub(r"<code>\1</code>", _e(value))


def _node_label(report: Report) -> str:
    node = report.node
    return str(node.get("hostname") or node.get("root") or "unknown node")


def _node_meta(node: dict[str, Any]) -> str:
    os_value, cgroup_value = node.get("os"), node.get("cgroup")
    os_info: dict[str, Any] = os_value if isinstance(os_value, dict) else {}
    os_name = os_info.get("pretty_name") or " ".join(
        str(x) for x in (os_info.get("id"), os_info.get("version_id")) if x
    )
    cgroup: dict[str, Any] = cgroup_value if isinstance(cgroup_value, dict) else {}
    parts = [
        os_name,
        node.get("arch"),
        _("kernel {version}").format(version=node["kernel"]) if node.get("kernel") else None,
        _("cgroup {mode}").format(mode=cgroup["mode"]) if cgroup.get("mode") else None,
    ]
    for key in ("kubelet", "runtime"):
        value = node.get(key)
        if isinstance(value, dict):
            desc = " ".join(
                str(value[k]) for k in ("name", "version", "cgroup_driver") if value.get(k)
            )
            if desc:
                parts.append(f"{key} {desc}" if key == "kubelet" else desc)
    root = node.get("root")
    if root and root != "/":  # an offline root or a bundle: where its files were
        parts.append(_("root {path}").format(path=root))
    return " · ".join(str(p) for p in parts if p)


def _unique_labels(reports: Sequence[Report]) -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for r in reports:
        base = _node_label(r)
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return labels


def _worst(findings: Sequence[Finding]) -> Severity:
    return max((f.severity for f in findings), key=lambda s: s.rank)


def _finding(f: Finding, report: Report) -> str:
    """One finding: what, evidence, impact and fix, with the commands to paste."""
    out = [
        '<div class="finding">',
        f'<h4><span class="badge sev-{_e(f.severity.value)}">'
        f"{_e(f.severity.value.upper())}</span> {_prose(f.title)}</h4><dl>",
    ]
    if f.message:
        out.append(f"<dt>{_e(_('What'))}</dt><dd>{_prose(f.message)}</dd>")
    if f.evidence:
        out.append(f"<dt>{_e(_('Evidence'))}</dt><dd>")
        for ev in f.evidence:
            where = f"{ev.source}:{ev.line}" if ev.line is not None else ev.source
            out.append(f"<pre>{_e(where)}: {_e(ev.text)}</pre>")
        out.append("</dd>")
    if f.impact:
        out.append(f"<dt>{_e(_('Impact'))}</dt><dd>{_prose(f.impact)}</dd>")
    if f.fix is not None:
        out.append(f"<dt>{_e(_('Fix'))}</dt><dd>{_prose(f.fix.summary)}")
        if f.fix.files:
            files = _("files: {files}").format(files=", ".join(f.fix.files))
            out.append(f"<br>{_e(files)}")
        for command in f.fix.commands:
            out.append(f"<pre>$ {_e(command)}</pre>")
        if f.fix.restart:
            restart = _("then restart: {services}").format(services=listing(f.fix.restart))
            out.append(f"<br>{_e(restart)}")
        if f.fix.reboot:
            out.append(f"<br>{_e(_('a reboot is needed for this to take effect'))}")
        for hint in suggestions(f, report):
            if hint.lead:
                out.append(f"<br>{_prose(hint.lead)}")
            out.append(f"<pre>$ {_e(hint.line)}</pre>")
        out.append("</dd>")
    out.append("</dl></div>")
    return "".join(out)


def _detail(
    detail_id: str, node: str, rule_id: str, findings: Sequence[Finding], report: Report
) -> str:
    out = [
        f'<template id="{_e(detail_id)}"><div class="detail">',
        f"<h3>{_e(rule_id)}</h3>",
        f'<p class="where">{_e(_("on {node}").format(node=node))} · {_e(_("more:"))} '
        f"<code>nodedoctor explain {_e(rule_id)}</code></p>",
    ]
    out += [_finding(f, report) for f in findings]
    out.append("</div></template>")
    return "".join(out)


def _unchecked_row(node: NotChecked, columns: int) -> str:
    """A node that could not be checked: at the top, ranked like an error so the severity
    and "only nodes with findings" filters keep it, with why in place of its cells."""
    return (
        f'<tr class="node unchecked" data-node="{_e(node.node)}"><td class="node">'
        f'<div class="name">{_e(node.node)}</div>'
        f'<div class="meta">{_e(_("not checked"))}</div></td><td class="num" colspan="4"></td>'
        f'<td class="unchecked" data-rule="" data-rank="{Severity.ERROR.rank}" '
        f'colspan="{max(columns, 1)}"><span class="badge sev-error">{_e(_("NOT CHECKED"))}</span> '
        f"{_e(node.error)}</td></tr>"
    )


def render_html_many(
    reports: Sequence[Report],
    title: str | None = None,
    not_checked: Sequence[NotChecked] = (),
) -> str:
    if title is None:
        title = _("nodedoctor fleet report")
    # Worst nodes first, so the fleet's problems are at the top of the page.
    pairs = sorted(
        zip(reports, _unique_labels(reports)),
        key=lambda p: (-p[0].count(Severity.ERROR), -p[0].count(Severity.WARNING), p[1]),
    )
    reports = [r for r, _label in pairs]
    labels = [label for _report, label in pairs]
    registry = all_rules()
    titles = {r.id: _(r.title) for r in registry}
    for r in reports:  # rules this nodedoctor does not know (a newer one wrote the report)
        for f in r.findings:
            titles.setdefault(f.rule, f.title)

    # Columns: every rule that fired somewhere, worst first, then by how many nodes.
    per_rule: dict[str, dict[str, int]] = {}
    for r in reports:
        for f in r.findings:
            per_rule.setdefault(f.rule, {"error": 0, "warning": 0, "info": 0, "nodes": 0})
        for rule_id in {f.rule for f in r.findings}:
            per_rule[rule_id]["nodes"] += 1
            worst = _worst([f for f in r.findings if f.rule == rule_id])
            per_rule[rule_id][worst.value] += 1
    columns = sorted(
        per_rule,
        key=lambda rid: (
            -per_rule[rid]["error"],
            -per_rule[rid]["warning"],
            -per_rule[rid]["nodes"],
            rid,
        ),
    )
    skipped_count: dict[str, int] = {}
    passed_count: dict[str, int] = {}
    for r in reports:
        for s in r.skipped:
            skipped_count[s.rule] = skipped_count.get(s.rule, 0) + 1
        for p in r.passed:
            passed_count[p] = passed_count.get(p, 0) + 1

    nodes_with = {s: sum(1 for r in reports if r.count(s)) for s in _SEV_ORDER}
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    nodes = len(reports) + len(not_checked)
    summary = [
        ngettext("{n} node", "{n} nodes", nodes).format(n=nodes),
        _("{n} with errors").format(n=nodes_with[Severity.ERROR]),
        _("{n} with warnings").format(n=nodes_with[Severity.WARNING]),
    ]
    if not_checked:
        summary.append(_("{n} not checked").format(n=len(not_checked)))
    summary += [
        ngettext("{n} rule firing", "{n} rules firing", len(columns)).format(n=len(columns)),
        _("generated {time}").format(time=_e(generated)),
    ]
    script = html_assets.script()
    head = [
        *_head(title, script=script),
        f"<header><h1>{_e(title)}</h1><p>{' · '.join(summary)}</p></header><main>",
    ]

    filters = [
        '<form class="filters" id="filters" role="search">',
        f'<label>{_e(_("Severity"))} <select id="f-severity">'
        f'<option value="">{_e(_("any"))}</option>'
        f'<option value="error">{_e(_("error"))}</option>'
        f'<option value="warning">{_e(_("warning or worse"))}</option>'
        f'<option value="info">{_e(_("info or worse"))}</option></select></label>',
        f'<label>{_e(_("Rule"))} <select id="f-rule">'
        f'<option value="">{_e(_("all rules"))}</option>',
        *(f'<option value="{_e(rid)}">{_e(rid)}</option>' for rid in columns),
        "</select></label>",
        f'<label>{_e(_("Node"))} <input type="search" id="f-node" '
        f'placeholder="{_e(_("name contains"))}"></label>',
        '<label><input type="checkbox" id="f-problems"> '
        f"{_e(_('only nodes with findings'))}</label>",
        '<span id="visible-count" aria-live="polite"></span></form>',
    ]

    matrix = [
        '<div class="scroll"><table id="matrix"><thead><tr>',
        f"<th>{_e(_('Node'))}</th>",
    ]
    matrix += [
        f'<th class="num" title="{_e(_(_COLUMN_TITLE[s]))}">{_LETTER[s]}</th>' for s in _SEV_ORDER
    ]
    matrix.append(
        f'<th class="num" title="{_e(_("rules passed / skipped"))}">'
        f"{_e(_('passed / skipped'))}</th>"
    )
    for rid in columns:
        matrix.append(
            f'<th class="rule" data-col="{_e(rid)}" title="{_e(titles.get(rid, rid))}">'
            f'{_e(rid)} <span class="n">({per_rule[rid]["nodes"]})</span></th>'
        )
    matrix.append("</tr></thead><tbody>")
    matrix += [_unchecked_row(node, len(columns)) for node in not_checked]
    templates: list[str] = []
    for index, (report, label) in enumerate(zip(reports, labels)):
        by_rule: dict[str, list[Finding]] = {}
        for f in report.findings:
            by_rule.setdefault(f.rule, []).append(f)
        skipped = {s.rule: s.reason for s in report.skipped}
        passed = set(report.passed)
        row = [
            f'<tr class="node" data-node="{_e(label)}"><td class="node">'
            f'<div class="name">{_e(label)}</div>'
            f'<div class="meta">{_e(_node_meta(report.node))}</div></td>'
        ]
        row += [f'<td class="num">{report.count(s) or ""}</td>' for s in _SEV_ORDER]
        row.append(f'<td class="num">{len(report.passed)} / {len(report.skipped)}</td>')
        for col, rid in enumerate(columns):
            found = by_rule.get(rid)
            attrs = f'data-col="{_e(rid)}" data-rule="{_e(rid)}"'
            if found:
                worst = _worst(found)
                detail_id = f"d-{index}-{col}"
                templates.append(_detail(detail_id, label, rid, found, report))
                count = f"\u00d7{len(found)}" if len(found) > 1 else ""
                row.append(
                    f'<td class="cell sev-{worst.value}" {attrs} data-rank="{worst.rank}">'
                    f'<button type="button" data-detail="{detail_id}" '
                    f'title="{_e(found[0].title)}">{_LETTER[worst]}{count}</button></td>'
                )
            elif rid in skipped:
                why = _("skipped: {reason}").format(reason=skipped[rid])
                row.append(
                    f'<td class="cell skip" {attrs} data-rank="0" title="{_e(why)}">\u2013</td>'
                )
            elif rid in passed:
                row.append(
                    f'<td class="cell pass" {attrs} data-rank="0" '
                    f'title="{_e(_("passed"))}">\u2713</td>'
                )
            else:
                row.append(
                    f'<td class="cell" {attrs} data-rank="0" title="{_e(_("not checked"))}"></td>'
                )
        row.append("</tr>")
        matrix += row
    matrix.append("</tbody></table>")
    if not reports and not not_checked:
        matrix.append(f'<p class="empty">{_e(_("No reports."))}</p>')
    matrix.append("</div>")

    counts = [
        f"<h2>{_e(_('Counts per rule'))}</h2>",
        f'<div class="scroll"><table id="rule-counts"><thead><tr><th>{_e(_("Rule"))}</th>'
        f"<th>{_e(_('Title'))}</th><th>{_e(_('Family'))}</th>"
        f'<th class="num">{_e(_("nodes with error"))}</th>'
        f'<th class="num">{_e(_("warning"))}</th>'
        f'<th class="num">{_e(_("info"))}</th><th class="num">{_e(_("passed"))}</th>'
        f'<th class="num">{_e(_("skipped"))}</th>'
        "</tr></thead><tbody>",
    ]
    for rid in columns:
        c = per_rule[rid]
        counts.append(
            f'<tr data-col="{_e(rid)}"><td><code>{_e(rid)}</code></td>'
            f"<td>{_prose(titles.get(rid, ''))}</td><td>{_e(family_of_id(rid, registry))}</td>"
            f'<td class="num">{c["error"]}</td><td class="num">{c["warning"]}</td>'
            f'<td class="num">{c["info"]}</td><td class="num">{passed_count.get(rid, 0)}</td>'
            f'<td class="num">{skipped_count.get(rid, 0)}</td></tr>'
        )
    counts.append("</tbody></table>")
    if not columns:
        counts.append(f'<p class="empty">{_e(_("No rule fired on any node."))}</p>')
    counts.append("</div>")

    tail = [
        *templates,
        f'<dialog id="viewer" aria-label="{_e(_("finding details"))}">'
        f'<button type="button" class="close" id="viewer-close">{_e(_("Close"))}</button>'
        '<div id="viewer-body"></div></dialog>',
        f"</main><script>{script}</script></body></html>",
    ]
    return "\n".join(head + filters + matrix + counts + tail) + "\n"


def _head(title: str, script: str | None) -> list[str]:
    """The page's head; ``script``: the text of its one script (None: no script runs)."""
    scripts = f"script-src {_csp_hash(script)}" if script is not None else "script-src 'none'"
    return [
        "<!DOCTYPE html>",
        f'<html lang="{_lang()}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"style-src {_csp_hash(html_assets.STYLE)}; {scripts}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'\">",
        f"<title>{_e(title)}</title>",
        f"<style>{html_assets.STYLE}</style></head><body>",
    ]


def render_html(report: Report, color: bool = False) -> str:
    """One node's report as a page of its findings (a one-row matrix says less than the
    text report): the node, the verdict, every finding in full, then the rules skipped with
    why and those that passed. No script: nothing on it opens or filters."""
    label = _node_label(report)
    title = _("nodedoctor report: {node}").format(node=label)
    verdict = " · ".join(
        [
            *(ngettext(*_COUNTS[s], report.count(s)).format(n=report.count(s)) for s in _SEV_ORDER),
            ngettext("{n} passed", "{n} passed", len(report.passed)).format(n=len(report.passed)),
            ngettext("{n} skipped", "{n} skipped", len(report.skipped)).format(
                n=len(report.skipped)
            ),
        ]
    )
    out = _head(title, script=None)
    out += [
        f"<header><h1>{_e(title)}</h1><p>{_e(_node_meta(report.node))}</p>"
        f'<p id="verdict">{_e(verdict)}</p></header><main>',
        '<section id="findings" class="detail">',
    ]
    ranked = sorted(report.findings, key=lambda f: -f.severity.rank)
    for f in ranked:
        out.append(
            f'<h3 id="{_e(f.rule)}">{_e(f.rule)}</h3><p class="where">{_e(_("more:"))} '
            f"<code>nodedoctor explain {_e(f.rule)}</code></p>"
        )
        out.append(_finding(f, report))
    if not ranked:
        out.append(f'<p class="empty">{_e(_("Nothing found at any severity."))}</p>')
    out.append("</section>")
    if report.skipped:
        out.append(f'<h2>{_e(_("Skipped"))}</h2><ul id="skipped">')
        out += [f"<li><code>{_e(s.rule)}</code>: {_prose(s.reason)}</li>" for s in report.skipped]
        out.append("</ul>")
    if report.passed:
        out.append(f'<h2>{_e(_("Passed"))}</h2><p id="passed">')
        out.append(", ".join(f"<code>{_e(rule)}</code>" for rule in report.passed))
        out.append("</p>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
