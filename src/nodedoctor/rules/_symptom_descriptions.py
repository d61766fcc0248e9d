"""Descriptions in Chinese (issue 16): which rules does "Pod 一直处于 Terminating" speak of?

``nodedoctor why`` matches a pasted error against the rules' documented messages
(:mod:`nodedoctor.rules.symptoms`). A user who writes in Chinese often describes the problem
instead, or around the error; each rule's zh_CN runbook lists how such users describe it
(its ``常见描述：`` items, ``RuleDoc.phrasings``), and :class:`DescriptionIndex` finds the
rules whose phrasings a description is like.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from nodedoctor._record import record
from nodedoctor.rules._symptom_words import (
    MAX_LINE_CHARS,
    STOP_WEIGHT,
    STOP_WORDS,
    _unescape,
    _weighted,
)
from nodedoctor.rules.base import ZH_CN_PHRASINGS_LEAD, Rule
from nodedoctor.rules.symptoms import SymptomMatch

__all__ = [
    "DescriptionIndex",
    "Likeness",
    "description_index_for",
    "description_terms",
    "is_chinese",
]


#: A run of Han characters (CJK Unified Ideographs, Extension A, compatibility ideographs).
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
#: An ASCII word of a description: identifiers keep their underscores (``ip_forward``).
_DESCRIPTION_WORD = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
#: Chinese words every kind of report uses: they say that something is wrong, not what.
CHINESE_STOP_TERMS = frozenset(
    {
        "一直",
        "不了",
        "不能",
        "之后",
        "以后",
        "出现",
        "问题",
        "失败",
        "报错",
        "错误",
        "无法",
        "提示",
        "显示",
        "怎么",
        "如何",
        "什么",
        "为什",
        "导致",
        "时候",
        "没有",
        "还是",
        "已经",
        "可以",
        "这个",
        "一个",
        "启用",
        "未启",
        "开启",
        "不是",
        "正常",
        "请问",
        "求助",
    }
)


#: Ways of saying the same state, written as one (a description says 未启用 where the
#: runbook says 被禁用): longest first, so that 没有启用 is not read as 没有 and 启用.
_SAME = {
    "禁用": ("没有启用", "没有开启", "未启用", "没启用", "未开启", "没开启"),
    "不一致": ("不一样", "不相同", "不匹配"),
    "删不掉": ("删除不了", "无法删除", "删不了"),
}
_SAME_FORMS = re.compile("|".join(sorted((f for fs in _SAME.values() for f in fs), key=len)[::-1]))
_SAME_AS = {form: word for word, forms in _SAME.items() for form in forms}


def description_terms(text: str) -> set[str]:
    """The terms a description in Chinese is compared by: the character bigrams of each run
    of Han characters (a lone character is its own term), and its ASCII words, lower-case,
    plural "s" folded, numbers kept (ports, versions) but random-looking words dropped, and
    each two of them that follow each other (``cgroup v1``, ``delete cluster``).
    A few ways of saying the same state are one (未启用 is 禁用, :data:`_SAME`).
    Full-width letters and punctuation count as their ASCII forms; only the first
    :data:`MAX_LINE_CHARS` characters are read.

    >>> sorted(description_terms("Pod 一直处于 Terminating（已 3 天）"))
    ['3', 'pod', 'terminating', '一直', '处于', '天', '已', '直处']
    >>> sorted(description_terms("升级后 cgroup v1 上起不来"))
    ['cgroup', 'cgroup v1', 'v1', '上起', '不来', '升级', '级后', '起不']
    """
    text = _unescape(text[:MAX_LINE_CHARS]).lower()
    text = _SAME_FORMS.sub(lambda found: _SAME_AS[found.group()], text)
    out: set[str] = set()
    for run in HAN.findall(text):
        if len(run) == 1:
            out.add(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    for part in HAN.split(text):
        kept = []
        for token in _DESCRIPTION_WORD.findall(part):
            if token.isdigit():
                kept.append(token)
            else:
                weighted = _weighted(token)
                if weighted is not None:
                    kept.append(weighted[0])
        out.update(kept)
        out.update(f"{a} {b}" for a, b in zip(kept, kept[1:]))
    return out


#: A description names a rule when its score (:meth:`DescriptionIndex.scores`) reaches this,
DESCRIPTION_THRESHOLD = 0.4
#: and the weight of its terms the rule uses reaches this (a term only one rule uses weighs
#: 1, one that all use about 0.2): one telling term is not enough to name a cause.
MIN_DESCRIPTION_WEIGHT = 1.5
#: A description that shows this share of a phrasing's weight names its rule even when its
#: terms are common ones ("内存 cgroup 未启用").
WHOLE_PHRASING = 0.9
#: A term found only in the rest of a rule's runbook counts this share of its weight (and of
#: a use in the inverse document frequency).
CONTEXT_SHARE = 0.6
#: A lone Han character (报, 上) is a weak term.
LONE_CHARACTER_SHARE = 0.5
#: A description names at most this many rules, each scoring at least this share of the best.
MAX_DESCRIBED_RULES = 3
DESCRIBED_SHARE = 0.75


@record
class Likeness:
    """How like a rule's phrasings a description is (:meth:`DescriptionIndex.scores`)."""

    rule_id: str
    #: The rule's phrasing most like the description.
    phrasing: str
    #: The mean of ``shown`` and the share of the description's weight the rule explains.
    score: float
    #: The weight of the description's terms that the rule uses.
    explained: float
    #: The share of the phrasing's weight that the description shows.
    shown: float

    @property
    def names_rule(self) -> bool:
        """Whether the description names the rule: it is like enough, and says enough of
        what the rule's runbook says, or nearly all of one of its phrasings."""
        return self.score >= DESCRIPTION_THRESHOLD and (
            self.explained >= MIN_DESCRIPTION_WEIGHT or self.shown >= WHOLE_PHRASING
        )


def is_chinese(text: str) -> bool:
    """Whether ``text`` holds Han characters: a description to match by its words too."""
    return HAN.search(text) is not None


class DescriptionIndex:
    """Every rule's Chinese phrasings of its symptoms (the ``常见描述：`` items of its zh_CN
    runbook, ``RuleDoc.phrasings``), to name the rules a description in Chinese speaks of.

    A text is a set of terms (:func:`description_terms`: character bigrams of its Han runs
    and its ASCII words). A term weighs by how few rules use it, inverse document frequency
    over the rules' phrasings and the rest of their runbook's Symptoms and summary (their
    ``context``), scaled so that a term of one rule weighs 1; a word every report uses
    (失败, 报错, failed) a quarter of that, a lone character half. Terms of the text that
    no rule uses are chatter and weigh nothing. A rule's score is the mean of two shares: of
    the weight of its phrasing most like the text that the text shows, and of the text's
    weight that the rule's terms explain (a term only in its context at
    :data:`CONTEXT_SHARE`). A rule is named when the score reaches
    :data:`DESCRIPTION_THRESHOLD` and the weight it explains :data:`MIN_DESCRIPTION_WEIGHT`
    (or the text shows :data:`WHOLE_PHRASING` of a phrasing).

    >>> index = DescriptionIndex(
    ...     [("swap-enabled", "节点开启了 swap，kubelet 起不来"),
    ...      ("apparmor-blocks-runc-signal", "Pod 一直处于 Terminating 删不掉")],
    ...     context=[("swap-enabled", "kubelet 启动时退出"), ("apparmor-blocks-runc-signal",
    ...              "Pod 事件显示 FailedKillPod")])
    >>> [(m.rule_id, m.kind) for m in index.match("Pod 删不掉了，一直 Terminating")]
    [('apparmor-blocks-runc-signal', 'description')]
    >>> index.match("今天天气很好")
    []
    """

    def __init__(
        self, phrasings: Iterable[tuple[str, str]], context: Iterable[tuple[str, str]] = ()
    ) -> None:
        #: (rule, phrasing, its terms).
        self.phrasings: list[tuple[str, str, frozenset[str]]] = []
        own: dict[str, set[str]] = {}
        for rule_id, text in phrasings:
            terms = frozenset(description_terms(text))
            if terms:
                self.phrasings.append((rule_id, text, terms))
                own.setdefault(rule_id, set()).update(terms)
        more: dict[str, set[str]] = {rule_id: set() for rule_id in own}
        for rule_id, text in context:
            if rule_id in more:  # a rule without phrasings has no twin to describe it
                more[rule_id].update(description_terms(text) - own[rule_id])
        # A rule that only mentions a term around its symptoms counts as a share of one.
        counts: dict[str, float] = {}
        for rule_id, rule_terms in own.items():
            for term in rule_terms:
                counts[term] = counts.get(term, 0.0) + 1.0
            for term in more[rule_id]:
                counts[term] = counts.get(term, 0.0) + CONTEXT_SHARE
        n = len(own)
        self._weights = {
            term: math.log(1 + n / count) / math.log(1 + n) * _term_share(term)
            for term, count in counts.items()
        }
        #: rule -> term -> the share of the term's weight the rule explains.
        self._explains: dict[str, dict[str, float]] = {
            rule_id: {
                **dict.fromkeys(more[rule_id], CONTEXT_SHARE),
                **dict.fromkeys(own[rule_id], 1.0),
            }
            for rule_id in own
        }
        self._phrasing_weights = [self._weight(terms) for _rule, _text, terms in self.phrasings]

    def _weight(self, terms: Iterable[str]) -> float:
        weights = self._weights
        return sum(weights.get(t, 0.0) for t in terms)

    def rule_ids(self) -> set[str]:
        return set(self._explains)

    def scores(self, text: str) -> list[Likeness]:
        """How like each rule that shares a term with the text the text is, best first."""
        weights = self._weights
        found = {t for t in description_terms(text) if t in weights}
        total = self._weight(found)
        if total <= 0:
            return []
        best: dict[str, tuple[float, str]] = {}
        for (rule_id, phrasing, terms), weight in zip(self.phrasings, self._phrasing_weights):
            shown = self._weight(found & terms) / weight
            if rule_id not in best or shown > best[rule_id][0]:
                best[rule_id] = (shown, phrasing)
        out = []
        for rule_id, (shown, phrasing) in best.items():
            explains = self._explains[rule_id]
            explained = sum(weights[t] * explains.get(t, 0.0) for t in found)
            if explained > 0:
                score = (shown + explained / total) / 2
                out.append(Likeness(rule_id, phrasing, score, explained, shown))
        return sorted(out, key=lambda x: (x.score, x.explained, x.rule_id), reverse=True)

    def match(self, text: str) -> list[SymptomMatch]:
        """The rules the description speaks of, best first (kind ``description``, coverage:
        the score, matched: the weight explained); none for a text unlike every rule's."""
        named = [x for x in self.scores(text) if x.names_rule]
        if not named:
            return []
        top = named[0].score
        return [
            SymptomMatch(x.rule_id, x.phrasing, "description", x.score, x.explained)
            for x in named[:MAX_DESCRIBED_RULES]
            if x.score >= DESCRIBED_SHARE * top
        ]


def _term_share(term: str) -> float:
    if term in STOP_WORDS or term in CHINESE_STOP_TERMS:
        return STOP_WEIGHT
    if len(term) == 1 and HAN.match(term):
        return LONE_CHARACTER_SHARE
    return 1.0


def description_index_for(rules: Iterable[Rule]) -> DescriptionIndex:
    """The index of the Chinese phrasings that the rules' zh_CN runbooks list
    (``RuleDoc.phrasings``), with the rest of their Symptoms and their summary as context."""
    from nodedoctor.rules import base

    phrasings: list[tuple[str, str]] = []
    context: list[tuple[str, str]] = []
    for rule in rules:
        doc = base.load_doc(rule.id, "zh_CN")
        found = doc.phrasings
        if not found:  # no twin (the English runbook stands in) or a twin without phrasings
            continue
        phrasings.extend((rule.id, p) for p in found)
        context.append((rule.id, doc.summary))
        paragraphs = re.split(r"\n\s*\n", doc.section("Symptoms"))
        context.extend(
            (rule.id, p) for p in paragraphs if not p.strip().startswith(ZH_CN_PHRASINGS_LEAD)
        )
    return DescriptionIndex(phrasings, context)
