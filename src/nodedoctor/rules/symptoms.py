"""Which rules does a pasted error belong to? Matches log lines against every rule's Symptoms.

Users paste what they saw: a kubelet journal line with its klog header, kubeadm preflight
output, a pod event, ``kk`` output, with escaped quotes, and with their own pod names, UIDs,
paths and numbers. A rule documents the exact strings in backquotes in its ``## Symptoms``
section, with ``…`` (or ``...``, ``%q``, ``%v``, ``%s``, ``%d``, ``<uid>``) where the text
varies. Matching is therefore tolerant, not literal:

1. Both sides are normalised: escapes undone (``\\"`` -> ``"``, ``\\n`` -> space), klog,
   syslog and ISO-timestamp prefixes dropped, UUIDs (with ``-`` or systemd's ``_``) and long
   hex ids replaced, and the text split into lower-case words, a plural "s" folded
   ("cgroups" is "cgroup"). Numbers and random-looking words (``x7k2p``, ``veth5d2c1a7e``)
   are variable and ignored.
2. Words are weighted: common words ("to", "failed", "error", ...) count a quarter, the
   others one. A symptom that weighs less than 2.5 (``Terminating``, ``cpuset``) is too
   generic to recognise an error by and is not indexed.
3. The symptom and the line are aligned locally (Smith-Waterman over words): matching words
   score their weight, a symptom word missing from the line costs 0.6 of its weight, an extra
   word in the line costs 0.5 of its weight, except where the symptom has a placeholder (any
   number of words may stand there).
4. A line **shows** a symptom when the alignment covers most of the symptom (at least 95 %
   of its weight for short symptoms, 80 % for medium, 70 % for long ones), or when the line
   is a **fragment** of it: the alignment covers at least 80 % of the line's weight, at least
   three words' weight, and a near-contiguous stretch of the symptom.

Words are runs of ASCII letters and digits, so an error pasted inside Chinese text ("kubelet
报错 failed to find memory cgroup (v2)，怎么办？") gives the words it gives alone: Han
characters and full-width punctuation separate words and are no word themselves, full-width
letters count as ASCII, and an id written against Han characters is still an id. A Chinese
description without an error is matched against the rules' Chinese phrasings instead
(:class:`nodedoctor.rules._symptom_descriptions.DescriptionIndex`).

Symptoms that share too few words with a line are not aligned at all, and results are cached
by the line's words with every word that no symptom has forgotten, so lines that differ only
in names, ids and times cost one alignment. A log or a paste (``check --logs``, ``why``) is
matched a block of lines at a time (:meth:`SymptomIndex.scan`): a screen over the block's
tokens passes on only the lines that could match (:meth:`SymptomIndex.screen`), so a 50 MB
log costs about 2 us a line.

>>> index = SymptomIndex([
...     ("kubepods-invalid", "failed to initialize top level QOS containers: root container "
...                          "[kubepods] doesn't exist"),
...     ("apparmor-blocks-runc-signal", "unknown error after kill: runc did not terminate "
...      "successfully: exit status 1: unable to signal init: permission denied"),
... ])
>>> line = ('Jan 24 10:01:02 node1 microk8s.daemon-kubelite[2210]: E0124 10:01:02.123456    2210 '
...         'kubelet.go:1542] "Failed to start ContainerManager" err="failed to initialize top '
...         'level QOS containers: root container [kubepods] doesn\\'t exist"')
>>> [(m.rule_id, m.kind) for m in index.match_line(line)]
[('kubepods-invalid', 'full')]
>>> [(m.rule_id, m.kind) for m in index.match_line("unable to signal init: permission denied")]
[('apparmor-blocks-runc-signal', 'fragment')]
>>> index.match_line("permission denied")
[]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from nodedoctor._record import record, replace
from nodedoctor.rules._symptom_words import (
    _CACHE_SIZE,
    _OOV,
    _TOKEN,
    _TOKEN_BYTES,
    _TOKEN_CACHE_SIZE,
    EXTRA_LINE_WORD,
    MAX_LINE_CHARS,
    MIN_FRAGMENT_WEIGHT,
    MIN_SYMPTOM_WEIGHT,
    MISSING_SYMPTOM_WORD,
    Word,
    _line_text,
    _unescape,
    _weighted,
    words,
)
from nodedoctor.rules.base import Rule

__all__ = ["MAX_LINE_CHARS", "Symptom", "SymptomIndex", "SymptomMatch", "index_for", "lines_of"]


@record
class Symptom:
    rule_id: str
    text: str
    words: tuple[Word, ...]
    weight: float = 0.0
    #: Other causes of the same message, which no rule checks (``RuleDoc.other_causes``).
    other_causes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", sum(w.weight for w in self.words))

    @property
    def required_coverage(self) -> float:
        if self.weight < 6:
            return 0.95
        if self.weight < 10:
            return 0.8
        return 0.7


@record
class SymptomMatch:
    rule_id: str
    symptom: str
    #: ``full``: the line shows the symptom; ``fragment``: the line is part of it.
    kind: str
    #: Share of the symptom's weight found in the line (0..1).
    coverage: float
    #: Weight of the aligned words.
    matched: float
    #: 1-based line number in the text that was matched, and that line.
    line: int = 0
    text: str = ""
    #: The line also shows a look-alike marker of the rule: what it is instead.
    not_this: str = ""
    #: The symptom's other causes, which no rule checks from the node's files.
    other_causes: tuple[str, ...] = ()

    @property
    def rank(self) -> tuple[int, int, float, float]:
        """Better first: a line that is the rule's own (not a look-alike), a full match, then
        a description's likeness (``description``, :mod:`._symptom_descriptions`), then a
        fragment."""
        own = 0 if self.not_this else 1
        return (own, _KIND_RANK.get(self.kind, 0), self.coverage, self.matched)


_KIND_RANK = {"full": 2, "description": 1, "fragment": 0}


#: A local alignment: (score, matched weight, first and last aligned symptom word).
_Alignment = tuple[float, float, int, int]
_EMPTY: _Alignment = (0.0, 0.0, -1, -1)


def _align(symptom: Sequence[Word], line: Sequence[Word]) -> _Alignment:
    """Best local alignment of the symptom's words with the line's (Smith-Waterman)."""
    n, m = len(symptom), len(line)
    prev: list[_Alignment] = [_EMPTY] * (m + 1)
    best = _EMPTY
    line_texts = [w.text for w in line]
    extra_costs = [EXTRA_LINE_WORD * w.weight for w in line]
    for i in range(1, n + 1):
        sw = symptom[i - 1]
        text, weight = sw.text, sw.weight
        missing = MISSING_SYMPTOM_WORD * weight
        next_free = symptom[i].free_gap_before if i < n else True
        cur: list[_Alignment] = [_EMPTY] * (m + 1)
        for j in range(1, m + 1):
            cell = _EMPTY
            if line_texts[j - 1] == text:
                d = prev[j - 1]
                first = d[2] if d[0] > 0 else i - 1
                cell = (d[0] + weight, d[1] + weight, first, i - 1)
            up = prev[j]  # the symptom word is missing from the line
            if up[0] - missing > cell[0]:
                cell = (up[0] - missing, up[1], up[2], up[3])
            left = cur[j - 1]  # an extra word in the line after symptom word i
            cost = 0.0 if next_free else extra_costs[j - 1]
            if left[0] - cost > cell[0]:
                cell = (left[0] - cost, left[1], left[2], left[3])
            cur[j] = cell
            if cell[0] > best[0] or (cell[0] == best[0] and cell[1] > best[1]):
                best = cell
        prev = cur
    return best


def _contains(line: Sequence[Word], marker: Sequence[Word]) -> bool:
    """Whether the marker's words stand together, in order, in the line."""
    texts, wanted = [w.text for w in line], [w.text for w in marker]
    n = len(wanted)
    return n > 0 and any(texts[i : i + n] == wanted for i in range(len(texts) - n + 1))


class SymptomIndex:
    """Every rule's symptoms, ready to match lines against; with each rule's look-alikes
    (``RuleDoc.lookalikes``: a line that also shows the marker is another problem's) and
    the other causes of shared messages (``RuleDoc.other_causes``).

    >>> index = SymptomIndex(
    ...     [("aa", 'apparmor="DENIED" operation="signal" comm="runc" peer="runc"')],
    ...     lookalikes=[("aa", 'peer="snap.docker.dockerd"', "Docker's snap")],
    ... )
    >>> line = 'apparmor="DENIED" operation="signal" comm="runc" peer="snap.docker.dockerd"'
    >>> [(m.rule_id, m.not_this) for m in index.match_line(line)]
    [('aa', "Docker's snap")]
    """

    def __init__(
        self,
        symptoms: Iterable[tuple[str, str]],
        lookalikes: Iterable[tuple[str, str, str]] = (),
        other_causes: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
    ) -> None:
        self.symptoms: list[Symptom] = []
        self._by_word: dict[str, set[int]] = {}
        self._bags: list[frozenset[str]] = []
        self._vocabulary: set[str] = set()
        #: rule -> (marker words, what a line with them is instead).
        self._lookalikes: dict[str, list[tuple[tuple[Word, ...], str]]] = {}
        for rule_id, marker, explanation in lookalikes:
            marker_words = tuple(words(marker, symptom=True))
            self._lookalikes.setdefault(rule_id, []).append((marker_words, explanation))
            self._vocabulary.update(w.text for w in marker_words)
        #: Results by the line's words: log lines repeat once timestamps and ids are gone.
        self._cache: dict[tuple[tuple[str, float], ...], list[SymptomMatch]] = {}
        #: A line token's word and weight (its text forgotten when no symptom has it).
        self._token_words: dict[str, tuple[str, float] | None] = {}
        for rule_id, text in symptoms:
            ws = tuple(words(text, symptom=True))
            causes = (other_causes or {}).get((rule_id, text), ())
            symptom = Symptom(rule_id, text, ws, other_causes=causes)
            if symptom.weight < MIN_SYMPTOM_WEIGHT:
                continue
            index = len(self.symptoms)
            self.symptoms.append(symptom)
            self._bags.append(frozenset(w.text for w in ws))
            self._vocabulary.update(w.text for w in ws)
            for w in ws:
                if w.weight >= 1.0:
                    self._by_word.setdefault(w.text, set()).add(index)
        #: The screen (:meth:`screen`): every line token that folds into a word of a
        #: symptom, that word; verdicts by the tokens seen.
        self._tokens: dict[bytes, str] = {}
        for text in {w.text for s in self.symptoms for w in s.words}:
            self._tokens[text.encode()] = text
            if len(text) >= 4 and not text.endswith("s"):
                self._tokens.setdefault(text.encode() + b"s", text)
        self._token_set = frozenset(self._tokens)
        #: Words a line gets from its ids, not from its tokens (a UUID is "uid").
        self._implied = frozenset({b"uid", b"hexid"} & self._token_set)
        self._screened: dict[frozenset[bytes], bool] = {}

    def rule_ids(self) -> set[str]:
        return {s.rule_id for s in self.symptoms}

    def _candidates(self, line_words: Sequence[Word], line_weight: float) -> list[int]:
        """Symptoms worth aligning: they share two meaningful words with the line, and the
        words they share (as a bag, an upper bound of any alignment) could reach a match."""
        hits: dict[int, int] = {}
        line_bag = {w.text for w in line_words}
        for text in {w.text for w in line_words if w.weight >= 1.0}:
            for index in self._by_word.get(text, ()):
                hits[index] = hits.get(index, 0) + 1
        out = []
        for index, count in hits.items():
            if count < 2:
                continue
            symptom = self.symptoms[index]
            shared = sum(w.weight for w in symptom.words if w.text in line_bag)
            symptom_bag = self._bags[index]
            in_symptom = sum(w.weight for w in line_words if w.text in symptom_bag)
            if shared >= symptom.required_coverage * symptom.weight or (
                min(shared, in_symptom) >= MIN_FRAGMENT_WEIGHT and in_symptom >= 0.8 * line_weight
            ):
                out.append(index)
        return out

    def match_line(
        self, line: str, lineno: int = 0, *, unescaped: str | None = None
    ) -> list[SymptomMatch]:
        """Every symptom the line shows or is a fragment of, best first, one per rule."""
        found = self._match_tokens(_TOKEN.findall(_line_text(line, unescaped)))
        return [replace(m, line=lineno, text=line.strip()) for m in found]

    def _match_tokens(self, tokens: list[str]) -> list[SymptomMatch]:
        # A word no symptom has can only be skipped: keep its weight, forget its text, so
        # lines that differ only in names and ids share one result. Each token's word is
        # worked out once (a log repeats its words).
        known = self._token_words
        key = tuple(
            w for w in [known[t] if t in known else self._learn(t) for t in tokens] if w is not None
        )
        if not key:
            return []
        cached = self._cache.get(key)
        if cached is None:
            cached = self._match_words([Word(text, weight) for text, weight in key])
            if len(self._cache) < _CACHE_SIZE:
                self._cache[key] = cached
        return cached

    def _learn(self, token: str) -> tuple[str, float] | None:
        weighted = _weighted(token)
        if weighted is not None and weighted[0] not in self._vocabulary:
            weighted = (_OOV, weighted[1])
        if len(self._token_words) < _TOKEN_CACHE_SIZE:
            self._token_words[token] = weighted
        return weighted

    def _match_words(self, line_words: Sequence[Word]) -> list[SymptomMatch]:
        line_weight = sum(w.weight for w in line_words)
        best: dict[str, SymptomMatch] = {}
        for index in self._candidates(line_words, line_weight):
            symptom = self.symptoms[index]
            _score, matched, first, last = _align(symptom.words, line_words)
            if matched <= 0:
                continue
            coverage = matched / symptom.weight
            kind = None
            if coverage >= symptom.required_coverage:
                kind = "full"
            elif matched >= MIN_FRAGMENT_WEIGHT and matched / line_weight >= 0.8:
                span = symptom.words[first : last + 1]
                if matched / sum(w.weight for w in span) >= 0.85:
                    kind = "fragment"
            if kind is None:
                continue
            not_this = next(
                (
                    why
                    for marker, why in self._lookalikes.get(symptom.rule_id, ())
                    if _contains(line_words, marker)
                ),
                "",
            )
            match = SymptomMatch(
                symptom.rule_id,
                symptom.text,
                kind,
                coverage,
                matched,
                not_this=not_this,
                other_causes=symptom.other_causes,
            )
            current = best.get(symptom.rule_id)
            if current is None or match.rank > current.rank:
                best[symptom.rule_id] = match
        return sorted(best.values(), key=lambda m: m.rank, reverse=True)

    def screen(self, lines: Sequence[str]) -> list[int]:
        """The indices of ``lines`` that may show a symptom or be a fragment of one; the
        others cannot (:meth:`_screen`).

        >>> index = SymptomIndex([("r", "root container [kubepods] doesn't exist")])
        >>> index.screen(["I1207 ordinary line of a busy kubelet", "",
        ...               'err="root container [kubepods] doesn\\'t exist"'])
        [2]
        """
        return self._screen(lines)[0]

    def _screen(self, lines: Sequence[str]) -> tuple[list[int], list[str] | None]:
        """:meth:`screen`, and each line with its escapes undone (``None`` when a line is
        longer than :data:`MAX_LINE_CHARS` or holds a line feed).

        Every symptom :meth:`_candidates` lets a line align with shares two of its words
        with the line and enough weight (:meth:`_may_match`), and a line's words are among
        the tokens of its text with escapes undone, lower-cased (dropping prefixes and ids
        only takes whole tokens away). That text is made for the whole block at once; per
        line, one ``split`` and a set intersection, and a verdict kept by the words found.
        The words and alignments are then worked out only for the lines that pass
        (bench/hostile.py: about 2 us a line instead of 17)."""
        unescaped = _unescape("\n".join(lines))
        # The tokens are the runs of [a-z0-9]: everything else becomes a space, in bytes
        # (any byte of a character outside ASCII is one), so that split() finds them.
        lowered = unescaped.lower().encode("utf-8", "surrogatepass")
        spaced = lowered.translate(_TOKEN_BYTES).split(b"\n")
        if len(spaced) != len(lines):  # a line holding a line feed: no screening
            return list(range(len(lines))), None
        # A line's words are read from its first MAX_LINE_CHARS: a longer one is not screened.
        long = max(map(len, lines), default=0) > MAX_LINE_CHARS
        tokens, implied, seen = self._token_set, self._implied, self._screened
        out: list[int] = []
        for i, low in enumerate(spaced):
            hits = tokens.intersection(low.split())
            if implied:
                hits |= implied
            if len(hits) >= 2:
                key = frozenset(hits)
                verdict = seen.get(key)
                if verdict is None:
                    verdict = self._may_match({self._tokens[t] for t in key})
                    if len(seen) < _CACHE_SIZE:
                        seen[key] = verdict
                if verdict:
                    out.append(i)
                    continue
            if long and len(lines[i]) > MAX_LINE_CHARS:
                out.append(i)
        return out, None if long else unescaped.split("\n")

    def _may_match(self, found: set[str]) -> bool:
        """Whether a line with the symptom words ``found`` (and any stop words) could pass
        :meth:`_candidates` for some symptom."""
        counts: dict[int, int] = {}
        for text in found:
            for index in self._by_word.get(text, ()):
                counts[index] = counts.get(index, 0) + 1
        for index, count in counts.items():
            if count < 2:
                continue
            symptom = self.symptoms[index]
            shared = sum(w.weight for w in symptom.words if w.text in found)
            needed = min(symptom.required_coverage * symptom.weight, MIN_FRAGMENT_WEIGHT)
            if shared + 1e-9 >= needed:
                return True
        return False

    def scan(self, blocks: Iterable[Sequence[str]]) -> Iterator[list[SymptomMatch]]:
        """The matches of every line that shows a symptom, line by line; ``blocks`` are the
        consecutive lines of one text (numbered from 1), as :mod:`nodedoctor.sources.logs`
        reads them."""
        first = 1
        for block in blocks:
            passing, unescaped = self._screen(block)
            for i in passing:
                line = None if unescaped is None else unescaped[i]
                matches = self.match_line(block[i], first + i, unescaped=line)
                if matches:
                    yield matches
            first += len(block)

    def match_lines(
        self, blocks: Iterable[Sequence[str]], *, whole: bool = True
    ) -> list[SymptomMatch]:
        """Matches of every line of ``blocks`` (and, with ``whole``, of the text as one line,
        for messages wrapped over several lines: its first :data:`MAX_LINE_CHARS` are what
        a line is matched on), best per rule first."""
        head: list[str] = []
        head_chars = 0
        count = 0

        def passing() -> Iterator[Sequence[str]]:
            nonlocal head_chars, count
            for block in blocks:
                count += len(block)
                for line in block:
                    if head_chars > MAX_LINE_CHARS:
                        break
                    head.append(line.strip())
                    head_chars += len(head[-1]) + 1
                yield block

        best: dict[str, SymptomMatch] = {}
        found = list(self.scan(passing()))
        if whole and count > 1:
            found.append(self.match_line(" ".join(head), 0))
        for matches in found:
            for match in matches:
                current = best.get(match.rule_id)
                if current is None or match.rank > current.rank:
                    best[match.rule_id] = match
        return sorted(best.values(), key=lambda m: m.rank, reverse=True)

    def match_text(self, text: str, *, whole: bool = True) -> list[SymptomMatch]:
        """:meth:`match_lines` of ``text``."""
        return self.match_lines([lines_of(text)], whole=whole)


def lines_of(text: str) -> list[str]:
    """The lines of ``text`` as a log is read: split at line feeds only (an editor's line
    numbers), without the empty one after a final line feed.

    >>> lines_of("a\\r\\nb\\x0cc\\n"), lines_of("")
    (['a\\r', 'b\\x0cc'], [])
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def index_for(rules: Iterable[Rule]) -> SymptomIndex:
    """The index of every symptom that the rules' docs list (``RuleDoc.symptoms``), with
    their look-alikes and other causes."""
    rules = list(rules)
    return SymptomIndex(
        ((rule.id, text) for rule in rules for text in rule.doc.symptoms),
        lookalikes=(
            (rule.id, marker, why) for rule in rules for marker, why in rule.doc.lookalikes
        ),
        other_causes={
            (rule.id, text): causes
            for rule in rules
            for text, causes in rule.doc.other_causes.items()
        },
    )
