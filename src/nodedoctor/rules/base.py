"""What a rule is: a public id, a severity, tags, a pure ``check(facts)`` and its documentation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

from nodedoctor._record import field, record
from nodedoctor.facts import Facts
from nodedoctor.model import Issue, Severity

DOC_SECTIONS = ("Symptoms", "Cause", "Impact", "Fix", "Verify", "References")
#: A zh_CN runbook (``rules/docs/zh_CN/<id>.md``, issue 16) has the same six sections under
#: these headings; :func:`parse_doc` files them under the English names.
DOC_SECTIONS_ZH_CN = {
    "Symptoms": "症状",
    "Cause": "原因",
    "Impact": "影响",
    "Fix": "修复",
    "Verify": "验证",
    "References": "参考资料",
}
#: A zh_CN Symptoms paragraph that starts so lists, as ``- `` items, how users describe the
#: problem in Chinese (``why`` indexes them).
ZH_CN_PHRASINGS_LEAD = "常见描述："
#: A Symptoms paragraph that starts so names messages that look like the rule's but come from
#: another problem: its code spans are not symptoms, they mark the look-alike in a pasted line.
LOOKALIKE_LEAD = "Not this problem:"
#: A Symptoms paragraph that starts so lists, as ``- `` items, the other causes of the
#: symptoms in the paragraph before it: causes no rule checks from the node's files.
OTHER_CAUSES_LEAD = "The same message also follows"
#: A Markdown code span: a run of backquotes, then the text up to a run of the same length.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class SkipRuleError(Exception):
    """Raised by a check that lacks the facts it needs; the reason is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Check = Callable[[Facts], Iterable[Issue]]


@record
class Rule:
    id: str
    severity: Severity
    title: str
    check: Check
    tags: tuple[str, ...] = ()
    #: Which versions the rule applies to, in words (shown by ``rules`` and ``explain``).
    applies_to: str = "all versions"
    aliases: tuple[str, ...] = field(default=())
    #: The most severe level the rule's findings ever take: README's table, ``nodedoctor
    #: rules`` and ``explain`` show it. ``severity`` is the level of a finding that names
    #: none (and SARIF's default level). Every rule declares it, and no finding of any test
    #: root exceeds it (tests/test_rule_severity.py).
    highest: Severity | None = None
    #: ``nodedoctor clean`` removes what this rule finds (teardown leftovers: mounts,
    #: cgroups); its findings point to it.
    clean_removes: bool = False

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} is not kebab-case")

    @property
    def most_severe(self) -> Severity:
        """The declared :attr:`highest` (``severity`` for a rule that has not declared it,
        which tests/test_rule_severity.py fails)."""
        return self.highest or self.severity

    @property
    def doc(self) -> RuleDoc:
        """The English runbook: the one ``why`` matches English messages with."""
        return load_doc(self.id)

    @property
    def localized_doc(self) -> RuleDoc:
        """The runbook in the current language (English where it has no twin)."""
        from nodedoctor.i18n import language

        return load_doc(self.id, language())


@record
class RuleDoc:
    rule_id: str
    summary: str
    sections: dict[str, str]

    def section(self, name: str) -> str:
        return self.sections.get(name, "")

    @property
    def phrasings(self) -> list[str]:
        """How users describe the problem in their own words: the ``- `` items of a zh_CN
        twin's Symptoms paragraph that starts with :data:`ZH_CN_PHRASINGS_LEAD`.

        >>> parse_doc("x", "## 症状\\n\\n常见描述：\\n- Pod 一直处于 Terminating\\n- 删不掉\\n"
        ...           "  Pod\\n", "zh_CN").phrasings
        ['Pod 一直处于 Terminating', '删不掉 Pod']
        """
        out: list[str] = []
        for p in self._symptom_paragraphs():
            if not p.startswith(ZH_CN_PHRASINGS_LEAD):
                continue
            for line in p.splitlines()[1:]:
                if line.lstrip().startswith("- "):
                    out.append(line.lstrip()[2:].strip())
                elif out and line.strip():
                    out[-1] += " " + line.strip()
        return out

    def _symptom_paragraphs(self) -> list[str]:
        return [p.strip() for p in re.split(r"\n\s*\n", self.section("Symptoms")) if p.strip()]

    @property
    def symptoms(self) -> list[str]:
        """The exact strings users see: every code span in the Symptoms section but those of
        its look-alike paragraphs (:data:`LOOKALIKE_LEAD`). As in Markdown, a span opened by N
        backquotes ends at the next run of exactly N, so a message that contains backquotes is
        written ``like `this` one`` (one space inside each end is dropped).

        >>> parse_doc("x", "## Symptoms\\n\\n`a b` and ``version `3` is not supported``"
        ...           " and `` `quoted` ``\\n\\nNot this problem: `c d` is other.\\n").symptoms
        ['a b', 'version `3` is not supported', '`quoted`']
        """
        return [
            span
            for p in self._symptom_paragraphs()
            if not p.startswith(LOOKALIKE_LEAD)
            for span in _code_spans(p)
        ]

    @property
    def lookalikes(self) -> list[tuple[str, str]]:
        """(marker, what it is instead): a line that shows one of the rule's symptoms but also
        the marker comes from another problem, which the paragraph names.

        >>> parse_doc("x", "## Symptoms\\n\\n`a b c`\\n\\nNot this problem: with `d e`\\n"
        ...           "it is Z's.\\n").lookalikes
        [('d e', "with d e it is Z's.")]
        """
        out: list[tuple[str, str]] = []
        for p in self._symptom_paragraphs():
            if p.startswith(LOOKALIKE_LEAD):
                explanation = " ".join(p[len(LOOKALIKE_LEAD) :].replace("`", "").split())
                out.extend((span, explanation) for span in _code_spans(p))
        return out

    @property
    def other_causes(self) -> dict[str, tuple[str, ...]]:
        """Symptom -> the other causes of that message (:data:`OTHER_CAUSES_LEAD`).

        >>> parse_doc("x", "## Symptoms\\n\\n`a b c`\\n\\nThe same message also follows:\\n"
        ...           "- a reboot\\n- an OOM\\n  kill\\n").other_causes
        {'a b c': ('a reboot', 'an OOM kill')}
        """
        out: dict[str, tuple[str, ...]] = {}
        paragraphs = self._symptom_paragraphs()
        for before, p in zip(paragraphs, paragraphs[1:]):
            if not p.startswith(OTHER_CAUSES_LEAD):
                continue
            items: list[str] = []
            for line in p.splitlines()[1:]:
                if line.lstrip().startswith("- "):
                    items.append(line.lstrip()[2:].strip())
                elif items and line.strip():
                    items[-1] += " " + line.strip()
            for span in _code_spans(before):
                out[span] = tuple(items)
        return out


def _code_spans(text: str) -> list[str]:
    out: list[str] = []
    for m in _CODE_SPAN.finditer(text):
        span = m.group(2)
        if len(span) > 2 and span.startswith(" ") and span.endswith(" "):
            span = span[1:-1]
        if span.strip():
            out.append(span)
    return out


@cache
def load_doc(rule_id: str, language: str = "en") -> RuleDoc:
    """A rule's runbook from ``rules/docs/<id>.md``, or its twin in ``language``
    (``rules/docs/<language>/<id>.md``) where there is one (works from a wheel or a zipapp)."""
    from importlib import resources  # only for docs (explain, why): start-up cost

    docs = resources.files("nodedoctor.rules").joinpath("docs")
    if language != "en":
        try:
            text = docs.joinpath(language).joinpath(f"{rule_id}.md").read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            pass
        else:
            return parse_doc(rule_id, text, language)
    try:
        text = docs.joinpath(f"{rule_id}.md").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return RuleDoc(rule_id, "", {})
    return parse_doc(rule_id, text)


def parse_doc(rule_id: str, text: str, language: str = "en") -> RuleDoc:
    """Split a rule document into its ``## `` sections (a zh_CN twin's headings,
    :data:`DOC_SECTIONS_ZH_CN`, filed under the English names).

    >>> d = parse_doc("x", "# x\\n\\nOne line.\\n\\n## Symptoms\\n\\n`boom`\\n"
    ...                    "\\n## Fix\\n\\nDo.\\n")
    >>> d.summary, d.symptoms, d.section("Fix")
    ('One line.', ['boom'], 'Do.')
    """
    headings = {zh: en for en, zh in DOC_SECTIONS_ZH_CN.items()} if language == "zh_CN" else {}
    sections: dict[str, str] = {}
    summary_lines: list[str] = []
    current: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            if current is not None:
                sections[current] = "\n".join(buf).strip()
            current, buf = line[3:].strip(), []
            current = headings.get(current, current)
        elif current is None:
            if not line.startswith("# "):
                summary_lines.append(line)
        else:
            buf.append(line)
    if current is not None:
        sections[current] = "\n".join(buf).strip()
    return RuleDoc(rule_id, "\n".join(summary_lines).strip(), sections)
