"""The report for people: what, where, why, what to do, how to learn more."""

from __future__ import annotations

import textwrap
from typing import Any

from nodedoctor.model import Finding, Report, Severity

_COLORS = {
    Severity.ERROR: "\033[1;31m",
    Severity.WARNING: "\033[1;33m",
    Severity.INFO: "\033[1;36m",
}
_RESET = "\033[0m"
_DIM = "\033[2m"


def _header(node: dict[str, Any], version: str) -> list[str]:
    os_info = node.get("os") or {}
    os_name = os_info.get("pretty_name") or " ".join(
        x for x in (os_info.get("id"), os_info.get("version_id")) if x
    )
    first = " · ".join(
        str(x)
        for x in (
            f"nodedoctor {version}",
            node.get("hostname") or node.get("root"),
            os_name or "unknown OS",
            node.get("arch"),
            f"kernel {node['kernel']}" if node.get("kernel") else None,
        )
        if x
    )
    mode = (node.get("cgroup") or {}).get("mode")
    parts = [f"cgroup {mode}" if mode else "cgroup mode unknown"]
    kubelet = node.get("kubelet")
    if isinstance(kubelet, dict):
        if kubelet.get("version") or kubelet.get("cgroup_driver"):
            desc = " ".join(x for x in (kubelet.get("version"), kubelet.get("cgroup_driver")) if x)
            parts.append(f"kubelet: {desc}")
        else:
            parts.append("kubelet: not installed")
    runtime = node.get("runtime")
    if isinstance(runtime, dict):
        if runtime.get("name"):
            desc = " ".join(
                str(x)
                for x in (runtime.get("name"), runtime.get("version"), runtime.get("cgroup_driver"))
                if x
            )
            parts.append(f"runtime: {desc}")
        else:
            parts.append("runtime: not installed")
    return [first, " · ".join(parts)]


def _wrap(label: str, text: str, width: int = 100) -> list[str]:
    lines: list[str] = []
    pad = " " * 12
    for i, para in enumerate(text.splitlines() or [""]):
        wrapped = textwrap.wrap(para, width - 12) or [""]
        for j, chunk in enumerate(wrapped):
            prefix = f"  {label:<9} " if i == 0 and j == 0 else pad
            lines.append(prefix + chunk)
    return lines


def _finding(f: Finding, color: bool) -> list[str]:
    sev = f.severity.value.upper()
    head = f"{sev:<9}{f.rule}   {f.title}"
    if color:
        head = f"{_COLORS[f.severity]}{sev:<9}{_RESET}{f.rule}   {f.title}"
    lines = [head]
    lines += _wrap("", f.message)
    for i, ev in enumerate(f.evidence):
        where = f"{ev.source}:{ev.line}" if ev.line else ev.source
        text = ev.text if len(ev.text) <= 160 else ev.text[:157] + "..."
        lines += _wrap("evidence" if i == 0 else "", f'{where}: "{text}"')
    if f.impact:
        lines += _wrap("impact", f.impact)
    if f.fix:
        fix_lines = [f.fix.summary]
        fix_lines += [f"$ {c}" for c in f.fix.commands]
        if f.fix.reboot:
            fix_lines.append("a reboot is needed for this to take effect")
        if f.fix.restart:
            fix_lines.append("then restart: " + ", ".join(f.fix.restart))
        if f.fix.available:
            fix_lines.append(f"nodedoctor fix --only {f.rule} --apply")
        lines += _wrap("fix", "\n".join(fix_lines))
    return lines


def render_text(report: Report, color: bool = False) -> str:
    out = _header(report.node, report.tool_version)
    out.append("")
    ordered = sorted(report.findings, key=lambda f: -f.severity.rank)
    for f in ordered:
        out += _finding(f, color)
        out.append("")
    if report.skipped:
        dim = _DIM if color else ""
        reset = _RESET if color else ""
        out.append(f"{dim}skipped:{reset}")
        for s in report.skipped:
            out.append(f"{dim}  {s.rule}: {s.reason}{reset}")
        out.append("")
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    summary = (
        f"{e} error{'s' if e != 1 else ''} · {w} warning{'s' if w != 1 else ''} · {i} info · "
        f"{len(report.passed)} passed · {len(report.skipped)} skipped"
    )
    if ordered:
        summary += f"    more: nodedoctor explain {ordered[0].rule}"
    out.append(summary)
    return "\n".join(out) + "\n"
