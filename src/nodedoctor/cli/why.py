"""``nodedoctor why "TEXT"``: which known problem does this error come from, and is it the
cause on this node?

The pasted text (kubelet journal lines, kubeadm output, pod events, ``kk`` output) is matched
against every rule's documented symptoms (:mod:`nodedoctor.rules.symptoms`); the rules it
matches are then run on the node (or ``--root DIR`` / ``--bundle FILE``), and the answer says,
for each, whether it is the cause here (its finding, evidence and fix), whether it passes
here (so look elsewhere), or whether it could not be evaluated. A line that also shows a
rule's look-alike marker (its runbook's "Not this problem:" paragraph: a denial whose peer is
Docker's snap is not containerd's profile) gets that paragraph instead of the rule's verdict; a
message with other causes (its runbook's "The same message also follows" list: "Pod sandbox
changed") gets those causes beside the ones this node shows, never one confident cause.

Exit codes: 0 a matching rule found the cause on this node; 1 no cause found (the text
matched no known symptom, or every matching rule passes here); 2 usage error.

A text in Chinese (issue 16) is matched the same way, so an English error pasted inside a
Chinese sentence is found as it is alone; when that finds no symptom in full, its words are
compared with the Chinese phrasings of the rules' zh_CN runbooks
(:mod:`nodedoctor.rules._symptom_descriptions`): "Pod 一直处于 Terminating" names the rule
whose runbook describes it so. The answer is in the current language.

Pasted text on stdin is read whole, line by line (:mod:`nodedoctor.sources.logs`): memory
holds one block of lines however long the paste (and its first ``MAX_LINE_CHARS`` for a
description). ``check --logs FILE`` streams a log file
through the same matching (:meth:`SymptomIndex.scan`, see :func:`scan_log`).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from nodedoctor._record import record, replace
from nodedoctor.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    add_root_options,
    node_options,
    open_root,
    terminal_columns,
    use_color,
)
from nodedoctor.i18n import N_, _, ngettext
from nodedoctor.model import Evidence, Report

if TYPE_CHECKING:  # the rules (and their facts) load when a command runs: start-up cost
    from nodedoctor.rules.base import Rule
    from nodedoctor.rules.symptoms import SymptomIndex, SymptomMatch

#: Log lines kept as evidence per rule.
LOG_LINES_PER_RULE = 3


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "why",
        help=_("explain an error message: find the known problem it comes from and check it here"),
        description=_(
            "Match an error message (kubelet log line, kubeadm output, pod event, kk "
            "output) against every rule's documented symptoms, run the matching rules on this "
            "node, and say whether each is the cause here. Exit 0 when a cause is found, 1 when "
            "none is, 2 on usage errors."
        ),
    )
    p.add_argument(
        "text",
        nargs="?",
        default="-",
        metavar="TEXT",
        help=_(
            "the message as you saw it (quote it; put '--' before a message that starts "
            "with '-'); '-' or nothing reads it from stdin"
        ),
    )
    add_root_options(p)
    p.add_argument("--format", default="text", choices=["text", "json"], help=_("(default: text)"))
    p.set_defaults(func=run)


def _open_log(path: str) -> BinaryIO:
    """The log given to ``--logs`` (``-``: stdin) to stream; a pipe is read like a file
    (``--logs <(journalctl -u kubelet)``), a device or directory is a usage error."""
    if path == "-":
        return sys.stdin.buffer
    try:
        stream = open(path, "rb")  # noqa: SIM115 (the caller closes it)
    except OSError as exc:
        raise UsageError(
            _("--logs {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from None
    mode = os.fstat(stream.fileno()).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        stream.close()
        raise UsageError(_("--logs {path}: not a file or a pipe").format(path=path))
    return stream


def log_blocks(stream: BinaryIO) -> Iterator[list[str]]:
    """The lines of ``stream``, read whole, a block at a time (:mod:`nodedoctor.sources.logs`),
    each cut where the symptom matcher stops reading."""
    from nodedoctor.rules.symptoms import MAX_LINE_CHARS
    from nodedoctor.sources.logs import read_blocks

    return read_blocks(stream, max_chars=MAX_LINE_CHARS)


def _match_stdin(index: SymptomIndex) -> tuple[list[SymptomMatch] | None, str]:
    """Matches of the text on stdin, streamed (``None`` when it has no text at all), and
    the text's first :data:`~nodedoctor.rules.symptoms.MAX_LINE_CHARS` characters."""
    from nodedoctor.rules.symptoms import MAX_LINE_CHARS

    given = False
    head: list[str] = []
    head_chars = 0

    def blocks() -> Iterator[list[str]]:
        nonlocal given, head_chars
        for block in log_blocks(sys.stdin.buffer):
            given = given or any(line.strip() for line in block)
            for line in block:
                if head_chars >= MAX_LINE_CHARS:
                    break
                head.append(line[: MAX_LINE_CHARS - head_chars])
                head_chars += len(head[-1]) + 1
            yield block

    try:
        matches = index.match_lines(blocks())
    except OSError as exc:
        raise UsageError(_("stdin: {error}").format(error=exc.strerror or exc)) from None
    return (matches if given else None), "\n".join(head)


def with_descriptions(matches: list[SymptomMatch], text: str) -> list[SymptomMatch]:
    """The matches, and when none shows a symptom in full and the text is in Chinese, the
    rules its description speaks of (their zh_CN runbooks' phrasings), best first."""
    from nodedoctor.rules._symptom_descriptions import description_index_for, is_chinese
    from nodedoctor.rules.symptoms import MAX_LINE_CHARS

    text = text[:MAX_LINE_CHARS]
    if any(m.kind == "full" for m in matches) or not is_chinese(text):
        return matches
    seen = {m.rule_id for m in matches}
    described = [
        replace(m, text=" ".join(text.split()))
        for m in description_index_for(_ordinary_rules()).match(text)
        if m.rule_id not in seen
    ]
    return sorted([*matches, *described], key=lambda m: m.rank, reverse=True)


def _ordinary_rules() -> list[Rule]:
    from nodedoctor.rules import all_rules
    from nodedoctor.rules.families import ENGINE_RULES

    return [r for r in all_rules() if r.id not in ENGINE_RULES]


def _index() -> SymptomIndex:
    from nodedoctor.rules.symptoms import index_for

    return index_for(_ordinary_rules())


def _verdict(rule_id: str, report: Report, match: SymptomMatch | None = None) -> str:
    if match is not None and match.not_this:
        return "lookalike"  # another problem's message: the rule is not asked
    if any(f.rule == rule_id for f in report.findings):
        return "finding"
    if any(s.rule == rule_id for s in report.skipped):
        return "skipped"
    return "passed"


def _first_sentence(text: str) -> str:
    """The text up to its first full stop (English ``. ``, Chinese ``。``), on one line: its
    lines joined by a space, but by nothing between two Han characters or at full-width
    punctuation (a Chinese runbook's line breaks are no spaces).

    >>> _first_sentence("The kubelet\\n  exits. Then")
    'The kubelet exits.'
    >>> _first_sentence("内核不\\n提供\\nkubelet 所需的，\\n  `cpu`。其他")
    '内核不提供 kubelet 所需的，`cpu`。'
    """
    flat = ""
    for word in text.split():
        if flat and not _joined(flat[-1], word[0]):
            flat += " "
        flat += word
    ends = [i + 1 for i in (flat.find(". "), flat.find("。")) if i >= 0]
    return flat[: min(ends)] if ends else flat


def _joined(before: str, after: str) -> bool:
    """Whether a line break between the two characters stands for no space."""
    import unicodedata

    def wide(char: str) -> bool:
        return not char.isascii() and unicodedata.east_asian_width(char) in ("W", "F")

    def punctuation(char: str) -> bool:
        return wide(char) and unicodedata.category(char).startswith("P")

    return (wide(before) and wide(after)) or punctuation(before) or punctuation(after)


def _shown(m: SymptomMatch) -> str:
    """Where the text shows the match, and what."""
    if m.kind == "description":
        return _("your description reads like “{phrasing}”").format(phrasing=m.symptom)
    if m.line and m.kind == "full":
        return _("line {line} shows `{symptom}`").format(line=m.line, symptom=m.symptom)
    if m.line:
        return _("line {line} is part of `{symptom}`").format(line=m.line, symptom=m.symptom)
    if m.kind == "full":
        return _("the whole text shows `{symptom}`").format(symptom=m.symptom)
    return _("the whole text is part of `{symptom}`").format(symptom=m.symptom)


def _text_answer(matches: list[SymptomMatch], report: Report, color: bool) -> str:
    from nodedoctor.render.text import render_text, report_width
    from nodedoctor.rules import rule_by_id

    out: list[str] = []
    n = len(matches)
    out.append(
        ngettext(
            "Your message matches {n} known symptom:", "Your message matches {n} known symptoms:", n
        ).format(n=n)
    )
    out.append("")
    for m in matches:
        rule = rule_by_id(m.rule_id)
        title = _(rule.title) if rule else ""
        out.append(f"  {m.rule_id}  {title}")
        out.append(f"    {_shown(m)}")
    out.append("")
    from nodedoctor.render.hints import command_line

    check = command_line(("nodedoctor", "check", *(report.node_options or ())))
    found = [m for m in matches if _verdict(m.rule_id, report, m) == "finding"]
    for m in matches:
        verdict = _verdict(m.rule_id, report, m)
        rule = rule_by_id(m.rule_id)
        if verdict == "lookalike":
            out.append(
                _("{rule} is not this problem: {explanation}").format(
                    rule=m.rule_id, explanation=m.not_this
                )
            )
        elif verdict == "passed" and rule is not None:
            doc = rule.localized_doc
            out.append(_("{rule} passes on this node: not the cause here.").format(rule=m.rule_id))
            out.append(_("  it looks for: {summary}").format(summary=_first_sentence(doc.summary)))
            verify = _first_sentence(doc.section("Verify"))
            if verify:
                out.append(_("  to confirm by hand: {verify}").format(verify=verify))
        elif verdict == "skipped":
            reason = next(s.reason for s in report.skipped if s.rule == m.rule_id)
            out.append(
                _("{rule} could not be checked here: {reason}").format(
                    rule=m.rule_id, reason=reason
                )
            )
    shared = [m for m in matches if m.other_causes and not m.not_this]
    for m in shared:
        out.append(
            _(
                "`{symptom}` also follows other causes, which nodedoctor cannot see from the "
                "node's files:"
            ).format(symptom=m.symptom)
        )
        out.extend(f"  - {cause}" for cause in m.other_causes)
    causes = ", ".join(m.rule_id for m in found)
    if found and shared:
        out.append(
            _(
                "Of the causes nodedoctor checks, this node shows: {rules}; the others above "
                "may add to it."
            ).format(rules=causes)
        )
    elif found:
        out.append(_("The cause on this node: {rules}.").format(rules=causes))
    elif shared:
        out.append(
            _(
                "None of the causes nodedoctor checks is present on this node: look at the "
                "others above, and run '{check}' for everything else."
            ).format(check=check)
        )
    elif all(m.not_this for m in matches):
        out.append(
            _(
                "The message comes from a problem nodedoctor does not check (above); run "
                "'{check}' for everything else."
            ).format(check=check)
        )
    else:
        out.append(
            _(
                "None of these is the cause on this node. Run '{check}' for everything else, "
                "and 'nodedoctor explain ID' for what each symptom can also mean."
            ).format(check=check)
        )
    out.append("")
    # The skipped rules are part of the answer: a symptom's rule may not have been checkable.
    out.append(render_text(report, color, report_width(terminal_columns()), verbosity=1))
    return "\n".join(out)


def _json_answer(matches: list[SymptomMatch], report: Report) -> str:
    data = {
        "schema": "nodedoctor/why/v1",
        "matches": [
            {
                "rule": m.rule_id,
                "symptom": m.symptom,
                "kind": m.kind,
                "coverage": round(m.coverage, 3),
                "line": m.line,
                "text": m.text,
                "verdict": _verdict(m.rule_id, report, m),
                "not_this_problem": m.not_this or None,
                "other_causes": list(m.other_causes),
            }
            for m in matches
        ],
        "cause_found": any(_verdict(m.rule_id, report, m) == "finding" for m in matches),
        "report": report.to_json(),
    }
    return json.dumps(data, indent=2) + "\n"


def run(args: argparse.Namespace) -> int:
    from nodedoctor import engine
    from nodedoctor.facts import Facts

    index = _index()
    if args.text == "-" and sys.stdin.isatty():
        # Reading a terminal: say so, rather than wait without a word.
        sys.stderr.write(
            _(
                "nodedoctor why: paste the message, then press Ctrl-D "
                "(or give it as an argument: nodedoctor why 'MESSAGE')"
            )
            + "\n"
        )
        sys.stderr.flush()
    if args.text == "-":
        matches, text = _match_stdin(index)
    else:
        matches, text = index.match_text(args.text), args.text
    if matches is None or (args.text != "-" and not args.text.strip()):
        raise UsageError(_("no message given: pass the error text, or pipe it on stdin"))
    matches = with_descriptions(matches, text)
    root = open_root(args)  # a bad --root or --bundle is a usage error whatever the text
    if not matches:
        from nodedoctor.render.hints import command_line

        if args.format == "json":
            sys.stdout.write(
                json.dumps(
                    {"schema": "nodedoctor/why/v1", "matches": [], "cause_found": False},
                    indent=2,
                )
                + "\n"
            )
        else:
            check = command_line(("nodedoctor", "check", *node_options(args)))
            sys.stdout.write(
                _(
                    "Your message matches no symptom nodedoctor knows. Run '{check}' to look "
                    "for every known problem on this node; 'nodedoctor rules' lists them."
                ).format(check=check)
                + "\n"
            )
        return EXIT_FINDINGS
    facts = Facts(
        root, profile=args.profile, role=args.role, kubernetes_version=args.kubernetes_version
    )
    asked = {m.rule_id for m in matches if not m.not_this}
    rules = [r for r in _ordinary_rules() if r.id in asked]
    report = replace(engine.run(facts, rules), node_options=node_options(args))
    if args.format == "json":
        sys.stdout.write(_json_answer(matches, report))
    else:
        sys.stdout.write(_text_answer(matches, report, use_color()))
    cause = any(_verdict(m.rule_id, report, m) == "finding" for m in matches)
    return EXIT_OK if cause else EXIT_FINDINGS


# -- check --logs ---------------------------------------------------------------------------


@record
class LogScan:
    """Symptoms found in a log: per rule, the first lines that show them, and how many."""

    source: str
    matches: dict[str, list[SymptomMatch]]
    counts: dict[str, int]

    @property
    def rule_ids(self) -> list[str]:
        return sorted(
            self.matches,
            key=lambda r: (max(m.rank for m in self.matches[r]), self.counts[r]),
            reverse=True,
        )


def scan_log(path: str, rules: list[Rule]) -> LogScan:
    """Match every line of the log at ``path`` (``-``: stdin), read whole, against the rules'
    symptoms, as ``why`` matches pasted text."""
    from nodedoctor.rules.symptoms import index_for

    index = index_for(rules)
    matches: dict[str, list[SymptomMatch]] = {}
    counts: dict[str, int] = {}
    stream = _open_log(path)
    try:
        for line_matches in index.scan(log_blocks(stream)):
            for m in line_matches:
                if m.not_this:
                    continue  # another problem's line, not this rule's evidence
                counts[m.rule_id] = counts.get(m.rule_id, 0) + 1
                kept = matches.setdefault(m.rule_id, [])
                if len(kept) < LOG_LINES_PER_RULE:
                    kept.append(m)
    except OSError as exc:
        raise UsageError(
            _("--logs {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return LogScan("stdin" if path == "-" else path, matches, counts)


def with_log_evidence(report: Report, scan: LogScan) -> Report:
    """The report with each finding of a rule seen in the log carrying the log lines."""
    findings = []
    for f in report.findings:
        seen = scan.matches.get(f.rule)
        if not seen:
            findings.append(f)
            continue
        lines = tuple(Evidence(scan.source, m.text, m.line) for m in seen)
        findings.append(replace(f, evidence=f.evidence + lines))
    return replace(report, findings=tuple(findings))


#: A rule's verdict on the node, after the lines of a log that show its symptoms.
_SCAN_STATES = {
    "finding": N_("cause found here"),
    "passed": N_("passes here"),
    "skipped": N_("skipped"),
}


def describe_scan(scan: LogScan, report: Report) -> str:
    """A short block for the text report: what the log shows, and the verdict here."""
    out = [_("symptoms found in {source}:").format(source=scan.source)]
    for rule_id in scan.rule_ids:
        first = scan.matches[rule_id][0]
        state = _(_SCAN_STATES[_verdict(rule_id, report)])
        line = _("{rule}: {count} line(s), first at line {line} ({state})").format(
            rule=rule_id, count=scan.counts[rule_id], line=first.line, state=state
        )
        out.append(f"  {line}")
    return "\n".join(out) + "\n\n"
