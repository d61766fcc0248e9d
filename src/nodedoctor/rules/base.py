"""What a rule is: a public id, a severity, tags, a pure ``check(facts)`` and its documentation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

from nodedoctor._record import field, record
from nodedoctor.facts import Facts
from nodedoctor.model import Issue, Severity

DOC_SECTIONS = ("Symptoms", "Cause", "Impact", "Fix", "Verify", "References")
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

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} is not kebab-case")

    @property
    def doc(self) -> RuleDoc:
        return load_doc(self.id)


@record
class RuleDoc:
    rule_id: str
    summary: str
    sections: dict[str, str]

    def section(self, name: str) -> str:
        return self.sections.get(name, "")

    @property
    def symptoms(self) -> list[str]:
        """The exact strings users see: every code span in the Symptoms section. As in
        Markdown, a span opened by N backquotes ends at the next run of exactly N, so a
        message that contains backquotes is written ``like `this` one`` (one space inside
        each end is dropped).

        >>> parse_doc("x", "## Symptoms\\n\\n`a b` and ``version `3` is not supported``"
        ...           " and `` `quoted` ``\\n").symptoms
        ['a b', 'version `3` is not supported', '`quoted`']
        """
        out = []
        for m in _CODE_SPAN.finditer(self.section("Symptoms")):
            text = m.group(2)
            if len(text) > 2 and text.startswith(" ") and text.endswith(" "):
                text = text[1:-1]
            if text.strip():
                out.append(text)
        return out


@cache
def load_doc(rule_id: str) -> RuleDoc:
    """A rule's documentation from ``rules/docs/<id>.md`` (works from a wheel or a zipapp)."""
    from importlib import resources  # only for docs (explain, why): start-up cost

    try:
        text = (
            resources.files("nodedoctor.rules")
            .joinpath("docs")
            .joinpath(f"{rule_id}.md")
            .read_text(encoding="utf-8")
        )
    except (FileNotFoundError, OSError):
        return RuleDoc(rule_id, "", {})
    return parse_doc(rule_id, text)


def parse_doc(rule_id: str, text: str) -> RuleDoc:
    """Split a rule document into its ``## `` sections.

    >>> d = parse_doc("x", "# x\\n\\nOne line.\\n\\n## Symptoms\\n\\n`boom`\\n"
    ...                    "\\n## Fix\\n\\nDo.\\n")
    >>> d.summary, d.symptoms, d.section("Fix")
    ('One line.', ['boom'], 'Do.')
    """
    sections: dict[str, str] = {}
    summary_lines: list[str] = []
    current: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            if current is not None:
                sections[current] = "\n".join(buf).strip()
            current, buf = line[3:].strip(), []
        elif current is None:
            if not line.startswith("# "):
                summary_lines.append(line)
        else:
            buf.append(line)
    if current is not None:
        sections[current] = "\n".join(buf).strip()
    return RuleDoc(rule_id, "\n".join(summary_lines).strip(), sections)
