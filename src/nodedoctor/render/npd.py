"""The node-problem-detector custom-plugin protocol: one line of stdout and an exit status.

NPD runs a plugin, reads at most 4 KiB of its stdout, trims it, cuts it to
``max_output_length`` *bytes* (default 80) and maps the exit status: 0 OK, 1 NonOK, any
other Unknown (kubernetes/node-problem-detector ``pkg/custompluginmonitor/plugin/plugin.go``,
``types/config.go``, ``docs/custom_plugin_monitor.md``). The line is the condition's message
while the problem lasts, so it is ASCII, one line, and at most 80 bytes here: nothing of
it is lost to NPD's cut. ``check --only FAMILY`` makes one plugin per condition.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from nodedoctor.model import Finding, Report, Severity
from nodedoctor.rules.families import ENGINE_RULES
from nodedoctor.rules.internal_error import RULE as INTERNAL_ERROR

if TYPE_CHECKING:
    from nodedoctor.facts.tracing import TracingFacts
    from nodedoctor.npdcycle import Lines

#: NPD's default ``max_output_length``.
MAX_OUTPUT = 80

NPD_OK = 0
NPD_PROBLEM = 1
NPD_UNKNOWN = 2


def _ascii_line(text: str) -> str:
    """One printable ASCII line: NPD cuts bytes, so a multi-byte character could split.

    >>> _ascii_line("kubelet\\n“systemd”\\tdriver")
    'kubelet ?systemd? driver'
    """
    out = []
    for ch in " ".join(text.split()):
        out.append(ch if " " <= ch <= "~" else "?")
    return "".join(out)


def _fit(text: str, limit: int = MAX_OUTPUT) -> str:
    """``text`` cut to ``limit`` characters, with ``...`` where it was cut.

    >>> _fit("x" * 90)[-5:], len(_fit("x" * 90))
    ('xx...', 80)
    """
    if len(text) <= limit:
        return text
    return text[: limit - 3].rstrip() + "..."


def _problems(report: Report, fail_on: Severity) -> list[Finding]:
    real = [f for f in report.findings if f.rule != INTERNAL_ERROR.id]
    ranked = sorted(real, key=lambda f: -f.severity.rank)
    return [f for f in ranked if f.severity.at_least(fail_on)]


def _evaluated(report: Report) -> int:
    """Ordinary rules that reached a verdict (passed or found something)."""
    found = {f.rule for f in report.findings}
    return sum(
        1
        for r in report.rules_checked
        if r not in ENGINE_RULES and (r in report.passed or r in found)
    )


def npd_status(report: Report, fail_on: Severity = Severity.ERROR) -> tuple[int, str]:
    """The exit status and the one line NPD shows for ``report``."""
    problems = _problems(report, fail_on)
    if problems:
        first = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        head = _ascii_line(f"{first.rule}: {first.title}")
        return NPD_PROBLEM, _fit(head, MAX_OUTPUT - len(more)) + more
    crashed = [f for f in report.findings if f.rule == INTERNAL_ERROR.id]
    if crashed:
        return NPD_UNKNOWN, _fit(_ascii_line(f"unknown: {crashed[0].title}"))
    ordinary = [r for r in report.rules_checked if r not in ENGINE_RULES]
    if not ordinary:
        # Nothing to evaluate (a family with no rules in this version): not a problem, and
        # nothing unknown either.
        return NPD_OK, "ok: no rule in this selection"
    if _evaluated(report) == 0:
        reason = report.skipped[0].reason if report.skipped else "no rule reached a verdict"
        return NPD_UNKNOWN, _fit(_ascii_line(f"unknown: {reason}"))
    below = len(report.findings)
    tail = f", {below} below {fail_on.value}" if below else ""
    line = f"ok: {len(report.passed)} passed, {len(report.skipped)} skipped{tail}"
    return NPD_OK, _fit(_ascii_line(line))


def npd_unknown(reason: str) -> tuple[int, str]:
    """The exit status and line for a check that could not run (a root that is refused):
    NPD sets the condition Unknown and shows why.

    >>> npd_unknown("/host does not look like a node's root")
    (2, "unknown: /host does not look like a node's root")
    """
    return NPD_UNKNOWN, _fit(_ascii_line(f"unknown: {reason}"))


def render_npd(report: Report, color: bool = False) -> str:
    """The line for the default threshold; ``check`` passes its ``--fail-on`` itself."""
    return npd_status(report)[1] + "\n"


def cycle_lines(facts: TracingFacts, families: Iterable[str]) -> Lines:
    """Each family's exit status and line at each ``--fail-on`` severity, every family
    evaluated as ``check --only FAMILY`` would, over one shared ``facts``
    (nodedoctor.npdcycle: the first plugin run of an NPD cycle makes them all)."""
    from nodedoctor import engine
    from nodedoctor.npdcycle import SEVERITIES
    from nodedoctor.rules import all_rules
    from nodedoctor.rules.families import expand_families

    rules = all_rules()
    out: Lines = {}
    for family in families:
        only = expand_families([family], rules) or sorted(ENGINE_RULES)
        with facts.selection():
            report = engine.run(facts, engine.select_rules(rules, only), summary=False)
        out[family] = {s: npd_status(report, Severity(s)) for s in SEVERITIES}
    return out
