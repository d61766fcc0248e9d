"""The words of a symptom and of a log line, as :mod:`nodedoctor.rules.symptoms` matches them:
escapes undone, log prefixes dropped, ids and numbers made variable, common words weighed
less (the module's docstring describes the whole method)."""

from __future__ import annotations

import re

from nodedoctor._record import record

#: Words that carry little meaning on their own.
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "do",
        "does",
        "doesn",
        "don",
        "error",
        "errors",
        "err",
        "failed",
        "fail",
        "failure",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "no",
        "not",
        "of",
        "on",
        "or",
        "please",
        "s",
        "t",
        "that",
        "the",
        "this",
        "to",
        "unable",
        "was",
        "were",
        "will",
        "with",
        "msg",
        "level",
        "time",
        "info",
        "warning",
        "warn",
        "unknown",
        "code",
        "desc",
        "rpc",
    }
)
STOP_WEIGHT = 0.25
#: Penalties, as a share of the skipped word's weight.
MISSING_SYMPTOM_WORD = 0.6
EXTRA_LINE_WORD = 0.5
#: A symptom lighter than this is too generic to recognise an error by (e.g. "Terminating").
MIN_SYMPTOM_WEIGHT = 2.5
#: A fragment must carry at least this much weight (three meaningful words).
MIN_FRAGMENT_WEIGHT = 3.0
_CACHE_SIZE = 20000
_TOKEN_CACHE_SIZE = 50_000
#: Lines longer than this are cut (a log line is rarely longer; a paste can be).
MAX_LINE_CHARS = 4000

_WILDCARD = "\x00"
_OOV = "\x01"
_PLACEHOLDERS = re.compile(r"…|\.\.\.|%[qvsdwT]|<[^<>\s]{1,40}>")
# ASCII word boundaries: an id written against Chinese text ("容器6f1c…报错") is still one.
_UUID = re.compile(
    r"\b[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}\b", re.I | re.A
)
_HEX = re.compile(r"\b[0-9a-f]{12,}\b", re.I | re.A)
#: Full-width ASCII forms and the ideographic space, as a Chinese input method types them.
_FULL_WIDTH = re.compile("[\u3000\uff01-\uff5e]")
_WORD = re.compile(rf"[a-z0-9]+|{_WILDCARD}")
_TOKEN = re.compile(r"[a-z0-9]+")
#: bytes.translate table: [a-z0-9] and line feeds kept, every other byte a space.
_TOKEN_BYTES = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 or c == 10 else 32 for c in range(256))
_TWO_DIGITS = re.compile(r"\d\D*\d")
_API_VERSION = re.compile(r"^v\d+((alpha|beta)\d*)?$")


_PREFIXES = (
    # syslog: "Jun  3 10:12:01 host prog[123]: "
    re.compile(r"^[A-Z][a-z]{2}\s+\d{1,2}\s+\d\d:\d\d:\d\d\s+\S+\s+[^\s:]+(?:\[\d+\])?:\s*"),
    # ISO 8601 timestamps (journalctl -o short-iso, containerd, kk); like the others, never
    # ends inside a word (SymptomIndex.screen relies on it)
    re.compile(r"^\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?(?![A-Za-z0-9])\s*"),
    # klog: "E0124 10:01:02.123456    2210 kubelet.go:1542] "
    re.compile(r"^[IWEF]\d{4}\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+[\w.-]+:\d+\]\s*"),
    # kernel: "[  812.004121] "
    re.compile(r"^\[\s*\d+\.\d+\]\s*"),
)


@record
class Word:
    text: str
    weight: float
    #: A placeholder precedes this word in the symptom: any words may stand there.
    free_gap_before: bool = False


def _unescape(text: str) -> str:
    if not text.isascii() and _FULL_WIDTH.search(text):
        text = _FULL_WIDTH.sub(_half_width, text)
    return (
        text.replace('\\\\\\"', '"')
        .replace('\\"', '"')
        .replace("\\\\n", " ")
        .replace("\\n", " ")
        .replace("\\t", " ")
        .replace("\\\\", "\\")
    )


def _half_width(found: re.Match[str]) -> str:
    """A full-width form as its ASCII character (U+FF43 is ``c``, U+FF08 ``(``), the
    ideographic space as a space: one character for one, so offsets hold."""
    char = found.group()
    return " " if char == "\u3000" else chr(ord(char) - 0xFEE0)


def _strip_prefixes(line: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            found = prefix.match(line)
            if found is not None:
                line, changed = line[found.end() :], True
    return line


def _variable(word: str) -> bool:
    if word.isalpha():
        return False
    if word.isdigit():
        return True
    if len(word) < 5 or _API_VERSION.match(word):
        return False
    return _TWO_DIGITS.search(word) is not None


def words(text: str, *, symptom: bool = False) -> list[Word]:
    """The weighted words of a symptom or a line (see the module docstring).

    >>> [w.text for w in words('E0124 10:01:02.1 2210 kubelet.go:1] "x" err="pod 6f1c2b3a-9d4e-'
    ...                        '4f5a-8b6c-7d8e9f0a1b2c in kube-proxy-x7k2p: \\\\"boom\\\\""')]
    ['x', 'err', 'pod', 'uid', 'in', 'kube', 'proxy', 'boom']
    >>> [(w.text, w.free_gap_before) for w in words('got "…" instead', symptom=True)]
    [('got', False), ('instead', True)]
    """
    out: list[Word] = []
    gap = False
    for token in _tokens(text, symptom=symptom):
        if token == _WILDCARD:
            gap = True
            continue
        weighted = _weighted(token)
        if weighted is None:
            # A variable word in a symptom is a placeholder too.
            gap = gap or symptom
            continue
        out.append(Word(*weighted, gap))
        gap = False
    return out


def _tokens(text: str, *, symptom: bool = False) -> list[str]:
    """The raw lower-case tokens of a symptom or a line, before :func:`_weighted` (a
    symptom's placeholders are ``_WILDCARD`` tokens)."""
    if not symptom:
        return _WORD.findall(_line_text(text))
    text = _PLACEHOLDERS.sub(f" {_WILDCARD} ", _unescape(text[:MAX_LINE_CHARS]))
    return _WORD.findall(_HEX.sub(" hexid ", _UUID.sub(" uid ", text)).lower())


def _line_text(line: str, unescaped: str | None = None) -> str:
    """The text a line's words are read from: its first :data:`MAX_LINE_CHARS`, escapes
    undone (``unescaped``, when the caller has it), prefixes dropped, ids replaced,
    lower-cased."""
    if unescaped is None:
        unescaped = _unescape(line[:MAX_LINE_CHARS])
    text = _strip_prefixes(unescaped.strip())
    return _HEX.sub(" hexid ", _UUID.sub(" uid ", text)).lower()


def _weighted(token: str) -> tuple[str, float] | None:
    """A token's word and weight, ``None`` for a variable one."""
    if _variable(token):
        return None
    weight = STOP_WEIGHT if token in STOP_WORDS else 1.0
    if len(token) > 4 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]  # "cgroups" and "cgroup", "controllers" and "controller"
    return token, weight
