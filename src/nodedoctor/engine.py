"""Runs rules over facts and builds the report. One rule's crash never stops the run."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Sequence
from typing import Any

from nodedoctor import __version__
from nodedoctor._record import replace
from nodedoctor.facts import Facts
from nodedoctor.i18n import _, language
from nodedoctor.model import Evidence, Finding, Report, Skipped
from nodedoctor.rules.base import Rule, SkipRuleError
from nodedoctor.rules.families import ENGINE_RULES
from nodedoctor.rules.internal_error import RULE as INTERNAL_ERROR
from nodedoctor.rules.parse_error import RULE as PARSE_ERROR


def select_rules(
    rules: Sequence[Rule], only: Iterable[str] = (), skip: Iterable[str] = ()
) -> list[Rule]:
    only_set, skip_set = set(only), set(skip)

    def named(rule: Rule, names: set[str]) -> bool:
        return rule.id in names or bool(names & set(rule.aliases))

    chosen = [r for r in rules if not named(r, skip_set)]
    if only_set:
        chosen = [r for r in chosen if named(r, only_set) or r.id in ENGINE_RULES]
    return chosen


def _crashed(what: str, exc: Exception, consequence: str) -> Finding:
    """The ``internal-error`` finding for ``what`` raising ``exc``."""
    import traceback  # only when something crashed: start-up cost

    where = traceback.extract_tb(exc.__traceback__)[-1]
    return Finding(
        rule=INTERNAL_ERROR.id,
        severity=INTERNAL_ERROR.severity,
        title=_("{what} crashed: {error}").format(what=what, error=type(exc).__name__),
        message=_("{what} raised {error}: {detail}; {consequence}").format(
            what=what, error=type(exc).__name__, detail=exc, consequence=consequence
        ),
        evidence=(Evidence(f"{where.filename}:{where.lineno}", f"{type(exc).__name__}: {exc}"),),
    )


def _evaluate(rule: Rule, facts: Facts) -> tuple[list[Finding], Skipped | None]:
    try:
        issues = list(rule.check(facts))
    except SkipRuleError as skip:
        return [], Skipped(rule.id, skip.reason)
    except Exception as exc:
        return [
            _crashed(_("rule {rule}").format(rule=rule.id), exc, _("its verdict is unknown"))
        ], None
    findings = [
        Finding(
            rule=rule.id,
            severity=issue.severity or rule.severity,
            title=issue.title,
            message=issue.message,
            evidence=issue.evidence,
            fix=issue.fix,
            impact=issue.impact,
            remedy=issue.remedy,
        )
        for issue in issues
    ]
    return findings, None


def said_what_fixes(findings: Sequence[Finding], rules: Iterable[Rule]) -> list[Finding]:
    """The findings, each fix hint saying what nodedoctor does for it, decided here alone:
    ``available`` when ``nodedoctor fix`` changes the node for it (its remedy acts, with the
    steps chosen for this run's findings), ``clean`` when ``nodedoctor clean`` removes what
    its rule finds. What the rule wrote in the hint does not count: the advice and the remedy
    may not disagree."""
    found = {f.rule for f in findings}
    cleans = {r.id for r in rules if r.clean_removes}
    out: list[Finding] = []
    for f in findings:
        fix = f.fix
        if fix is not None:
            available = f.remedy is not None and f.remedy.acts_with(found)
            clean = f.rule in cleans
            if (available, clean) != (fix.available, fix.clean):
                fix = replace(fix, available=available, clean=clean)
        out.append(f if fix is f.fix else replace(f, fix=fix))
    return out


def run(facts: Facts, rules: Sequence[Rule], summary: bool = True) -> Report:
    """The report of ``rules`` on ``facts``; without ``summary`` its ``node`` block is left
    empty (NPD's one line never shows it, and it parses the kubelet and runtime configs)."""
    # A check makes many small objects that live until its report is built (mounts, cgroup
    # paths, evidence); the cyclic collector would rescan them again and again: a fifth of
    # the CPU at 2,000 pods on cgroup v1 (bench/scale.py). Nothing in a check needs it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(facts, rules, summary)
    finally:
        if collecting:
            gc.enable()


def _run(facts: Facts, rules: Sequence[Rule], summary: bool) -> Report:
    started = time.perf_counter()
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    passed: list[str] = []
    checked: list[str] = []
    ordinary = [r for r in rules if r.id not in ENGINE_RULES]
    for rule in ordinary:
        rule_findings, skip = _evaluate(rule, facts)
        checked.append(rule.id)
        if skip is not None:
            skipped.append(skip)
        elif not rule_findings:
            passed.append(rule.id)
        findings.extend(rule_findings)
    node: dict[str, Any] = {}
    if summary:
        # Imported here: it imports the kubelet and runtime facts, which an NPD run of a
        # family that does not need them never loads.
        from nodedoctor.facts.summary import node_summary

        try:
            node = node_summary(facts)
        except Exception as exc:
            findings.append(
                _crashed(_("the node summary"), exc, _("the report's node block is empty"))
            )
    if any(r.id == PARSE_ERROR.id for r in rules):
        # Last, so it sees every problem the other rules' facts ran into.
        parse_findings, _unused = _evaluate(PARSE_ERROR, facts)
        checked.append(PARSE_ERROR.id)
        findings.extend(parse_findings)
        if not parse_findings:
            passed.append(PARSE_ERROR.id)
    return Report(
        tool_version=__version__,
        node=node,
        findings=tuple(said_what_fixes(findings, rules)),
        skipped=tuple(skipped),
        passed=tuple(passed),
        duration_seconds=time.perf_counter() - started,
        timestamp=time.time(),
        rules_checked=tuple(checked),
        language=language(),
    )
