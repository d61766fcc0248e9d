"""The report for people: one line per finding and the verdict first, then each finding's
details (what, where, why, what to do, how to learn more).

Width (issue 15): text is wrapped at ``width`` columns (the CLI passes the terminal's:
:func:`report_width`) and never inside a word, so paths, options and ids stay whole
(``break_on_hyphens=False``, ``break_long_words=False``); a code span that fits on a line is
not broken either. Two things stand on a line of their own, whole, even when longer than the
width: a command (``$ ...``), so that it pastes as printed, and a single word longer than the
width (a long path), which no wrapping could shorten. Width is display width: an East Asian
wide character takes two columns, and a line may break between two of them (Chinese has no
spaces), never before a closing or after an opening punctuation mark (issue 16).

``verbosity``: -1 the summary alone (``check -q``), 0 the summary and the details, 1 also the
rules that were skipped and why (``check -v``).
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from typing import Any

from nodedoctor.i18n import N_, _, listing, ngettext
from nodedoctor.model import Finding, Report, Severity
from nodedoctor.render.hints import explain, suggestions

#: When the width is not known (a pipe, a file): stable output for tests and logs.
DEFAULT_WIDTH = 80
#: Prose wider than this is hard to read, whatever the terminal's width.
MAX_WIDTH = 100
#: Below this nothing reads well; wrapping stops narrowing there.
MIN_WIDTH = 40

_COLORS = {
    Severity.ERROR: "\033[1;31m",
    Severity.WARNING: "\033[1;33m",
    Severity.INFO: "\033[1;36m",
}
_RESET = "\033[0m"
_DIM = "\033[2m"
#: Evidence text longer than this is cut (a kernel command line, a whole config line).
_EVIDENCE_CHARS = 160
#: A Markdown code span in prose: kept on one line when it fits.
_CODE_SPAN = re.compile(r"`[^`\n]+`")
#: Stands for a space inside a kept code span while the text is wrapped (a private-use
#: character: textwrap splits on ASCII whitespace only).
_KEPT_SPACE = "\ue000"
#: No line starts with these (closing marks: full-width comma, stop, ... , dash) ...
_NO_LINE_START = frozenset(
    "\uff0c\u3002\u3001\uff1b\uff1a\uff01\uff1f\uff09\u300d\u300f\u3011\u300b\u3009\u201d\u2019\u2026\u2014"
)
#: ... nor ends with these (an opening one).
_NO_LINE_END = frozenset("\uff08\u300c\u300e\u3010\u300a\u3008\u201c\u2018")


def _wide(char: str) -> bool:
    import unicodedata  # only for text that is not ASCII

    return unicodedata.east_asian_width(char) in ("W", "F")


def columns(text: str) -> int:
    """The columns ``text`` takes on a terminal: two for an East Asian wide character.

    >>> columns("kubelet 节点"), columns("·")
    (12, 1)
    """
    if text.isascii():
        return len(text)
    return sum(2 if _wide(c) else 1 for c in text)


class _WideWrapper(textwrap.TextWrapper):
    """TextWrapper counting display columns, which may break between wide characters: for
    text with East Asian wide characters (other text goes to TextWrapper itself)."""

    def _split(self, text: str) -> list[str]:
        out: list[str] = []
        for chunk in super()._split(text):
            piece = ""
            for char in chunk:
                before = piece[-1] if piece else ""
                if (
                    before
                    and (_wide(before) or _wide(char))
                    and char not in _NO_LINE_START
                    and before not in _NO_LINE_END
                ):
                    out.append(piece)
                    piece = ""
                piece += char
            if piece:
                out.append(piece)
        return out

    def _wrap_chunks(self, chunks: list[str]) -> list[str]:
        """textwrap's own, with columns() for len() (no max_lines, no placeholder)."""
        lines: list[str] = []
        chunks.reverse()
        while chunks:
            cur_line: list[str] = []
            cur_len = 0
            indent = self.subsequent_indent if lines else self.initial_indent
            width = self.width - columns(indent)
            if self.drop_whitespace and chunks[-1].strip() == "" and lines:
                del chunks[-1]
            while chunks:
                size = columns(chunks[-1])
                if cur_len + size <= width:
                    cur_line.append(chunks.pop())
                    cur_len += size
                else:
                    break
            if chunks and columns(chunks[-1]) > width and not cur_line:
                cur_line.append(chunks.pop())  # a word longer than the line stays whole
            if self.drop_whitespace and cur_line and cur_line[-1].strip() == "":
                del cur_line[-1]
            if cur_line:
                lines.append(indent + "".join(cur_line))
        return lines


def report_width(columns: int | None) -> int:
    """The width a report is wrapped at: the terminal's ``columns`` (None: not known, 80),
    kept between 40 and 100.

    >>> report_width(None), report_width(72), report_width(250), report_width(10)
    (80, 72, 100, 40)
    """
    if columns is None:
        return DEFAULT_WIDTH
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


@lru_cache(maxsize=32)
def _wrapper(width: int, first: str, rest: str, wide: bool = False) -> textwrap.TextWrapper:
    return (_WideWrapper if wide else textwrap.TextWrapper)(
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


def wrap(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """``text`` wrapped at ``width`` columns, its first line led by ``first`` and the others
    by ``rest`` (default: as many spaces). Lines of ``text`` stay lines; words are never
    broken, not at hyphens either; a code span that fits on a line is not broken.

    >>> wrap("umount /var/lib/kubelet/pods/d4c3b2a1-0f9e-4d8c-b7a6-958473625140/volumes", 30)
    ['umount', '/var/lib/kubelet/pods/d4c3b2a1-0f9e-4d8c-b7a6-958473625140/volumes']
    >>> wrap("run `grubby --update-kernel=ALL --args=x`, then reboot", 44, "fix: ", "  ")
    ['fix: run', '  `grubby --update-kernel=ALL --args=x`,', '  then reboot']
    """
    rest = " " * columns(first) if rest is None else rest
    room = width - max(columns(first), columns(rest))
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        kept = _CODE_SPAN.sub(
            lambda m: m.group(0).replace(" ", _KEPT_SPACE) if columns(m[0]) < room else m[0],
            para,
        )
        wide = columns(kept) != len(kept) or columns(first + rest) != len(first + rest)
        wrapped = _wrapper(width, first, rest, wide).wrap(kept) or [first.rstrip()]
        lines += [line.replace(_KEPT_SPACE, " ") for line in wrapped]
        first = rest
    return lines


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
            os_name or _("unknown OS"),
            node.get("arch"),
            _("kernel {version}").format(version=node["kernel"]) if node.get("kernel") else None,
        )
        if x
    )
    mode = (node.get("cgroup") or {}).get("mode")
    parts = [_("cgroup {mode}").format(mode=mode) if mode else _("cgroup mode unknown")]
    kubelet = node.get("kubelet")
    if isinstance(kubelet, dict):
        if kubelet.get("version") or kubelet.get("cgroup_driver"):
            desc = " ".join(x for x in (kubelet.get("version"), kubelet.get("cgroup_driver")) if x)
            parts.append(_("kubelet: {description}").format(description=desc))
        else:
            parts.append(_("kubelet: not installed"))
    runtime = node.get("runtime")
    if isinstance(runtime, dict):
        if runtime.get("name"):
            desc = " ".join(
                str(x)
                for x in (runtime.get("name"), runtime.get("version"), runtime.get("cgroup_driver"))
                if x
            )
            parts.append(_("runtime: {description}").format(description=desc))
        else:
            parts.append(_("runtime: not installed"))
    target = node.get("target")
    # Said where it was given, or where it is what the rules judge (no kubelet yet).
    if isinstance(target, dict) and (
        "flag" in (target.get("deployer_source"), target.get("version_source"))
        or (target.get("deployer") and target.get("kubelet_installed") is False)
    ):
        parts.append(_("target: {description}").format(description=_target_text(target)))
    return [first, " · ".join(parts)]


#: How the deployer was found, and how the Kubernetes version was (``deployer-default``:
#: the deployer's own default, said with its name).
_DEPLOYER_SOURCE = {"flag": N_("deployer given"), "detected": N_("deployer detected")}
_VERSION_SOURCE = {
    "flag": N_("version given"),
    "detected": N_("version detected"),
    "kubelet": N_("version the kubelet's"),
}


def _target_text(target: dict[str, Any]) -> str:
    """``kubeadm 1.35 (deployer given, version: kubeadm's default)``."""
    deployer = target.get("deployer") or _("deployer unknown")
    version = target.get("kubernetes_version") or _("version unknown")
    vsource = target.get("version_source") or ""
    dsource = target.get("deployer_source") or ""
    if vsource == "deployer-default":
        vtext: str | None = _("version {deployer}'s default").format(deployer=deployer)
    else:
        vtext = _(_VERSION_SOURCE[vsource]) if vsource in _VERSION_SOURCE else None
    dtext = _(_DEPLOYER_SOURCE[dsource]) if dsource in _DEPLOYER_SOURCE else None
    if dtext and vtext:
        note = _("{deployer_source}, {version_source}").format(
            deployer_source=dtext, version_source=vtext
        )
    else:
        note = dtext or vtext or ""
    if target.get("kubelet_installed") and target.get("version_note"):
        # the installed kubelet is another version (shown only with a source given: a note)
        note = _("{notes}; {note}").format(notes=note, note=target["version_note"])
    if not note:
        return f"{deployer} {version}"
    return _("{deployer} {version} ({notes})").format(
        deployer=deployer, version=version, notes=note
    )


def _wrap_header_line(line: str, width: int) -> list[str]:
    """A line of `` · `` parts (the header's, the verdict) broken between its parts where it
    is too long (a part longer than the width is wrapped on its own)."""
    out: list[str] = []
    current = ""
    for part in line.split(" · "):
        joined = f"{current} · {part}" if current else part
        if current and columns(joined) > width:
            out.append(current)
            current = part
        else:
            current = joined
    out.append(current)
    lines: list[str] = []
    for i, chunk in enumerate(out):
        lines += wrap(chunk, width, "" if i == 0 else "  ", "  ")
    return lines


def _one_line(f: Finding, width: int, color: bool) -> list[str]:
    """``SEVERITY rule-id: title``, as kubeadm's ``[ERROR Swap]: ...`` lines."""
    sev = f.severity.value.upper()
    lines = wrap(f"{sev:<8} {f.rule}: {f.title}", width, "", " " * 9)
    if color:
        lines[0] = f"{_COLORS[f.severity]}{sev}{_RESET}{lines[0][len(sev) :]}"
    return lines


def _verdict(report: Report, verbosity: int) -> str:
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    skipped = len(report.skipped)
    passed = len(report.passed)
    parts = [
        ngettext("{n} error", "{n} errors", e).format(n=e),
        ngettext("{n} warning", "{n} warnings", w).format(n=w),
        ngettext("{n} info", "{n} info", i).format(n=i),
        ngettext("{n} passed", "{n} passed", passed).format(n=passed),
        ngettext("{n} skipped", "{n} skipped", skipped).format(n=skipped),
    ]
    more = _(" (-v: why)") if skipped and verbosity == 0 else ""
    return " · ".join(parts) + more


def _evidence(f: Finding, width: int) -> list[str]:
    items: list[str] = []
    for ev in f.evidence:
        where = f"{ev.source}:{ev.line}" if ev.line else ev.source
        text = ev.text
        if len(text) > _EVIDENCE_CHARS:
            text = text[: _EVIDENCE_CHARS - 3] + "..."
        items.append(f'{where}: "{text}"')
    if len(items) == 1:
        return wrap(items[0], width, f"  {_('evidence:')} ", "      ")
    lines = [f"  {_('evidence:')}"]
    for item in items:
        lines += wrap(item, width, "    ", "      ")
    return lines


def _fix(f: Finding, report: Report, width: int) -> list[str]:
    fix = f.fix
    if fix is None:
        return []
    lines = wrap(fix.summary, width, f"  {_('fix:')} ", "    ")
    lines += [f"    $ {c}" for c in fix.commands]
    if fix.restart:
        services = listing(fix.restart)
        lines += wrap(_("then restart: {services}").format(services=services), width, "    ")
    if fix.reboot:
        lines += wrap(_("a reboot is needed for this to take effect"), width, "    ")
    for s in suggestions(f, report):
        if s.lead:
            lines += wrap(s.lead, width, "    ")
        lines.append(f"    $ {s.line}")
    return lines


def _details(f: Finding, report: Report, width: int, color: bool) -> list[str]:
    lines = _one_line(f, width, color)
    lines += wrap(f.message, width, "  ")
    if f.evidence:
        lines += _evidence(f, width)
    if f.impact:
        lines += wrap(f.impact, width, f"  {_('impact:')} ", "    ")
    lines += _fix(f, report, width)
    more = explain(f.rule)
    inline = f"  {more.lead} {more.line}"
    lines += [inline] if columns(inline) <= width else [f"  {more.lead}", f"    $ {more.line}"]
    return lines


def render_text(
    report: Report, color: bool = False, width: int = DEFAULT_WIDTH, verbosity: int = 0
) -> str:
    """The report as text at ``width`` columns (see the module's docstring)."""
    ordered = sorted(report.findings, key=lambda f: -f.severity.rank)
    out: list[str] = []
    if verbosity >= 0:
        for line in _header(report.node, report.tool_version):
            out += _wrap_header_line(line, width)
        out.append("")
    for f in ordered:
        out += _one_line(f, width, color)
    out += _wrap_header_line(_verdict(report, verbosity), width)
    if verbosity < 0:
        return "\n".join(out) + "\n"
    for f in ordered:
        out.append("")
        out += _details(f, report, width, color)
    if verbosity > 0 and report.skipped:
        dim, reset = (_DIM, _RESET) if color else ("", "")
        out.append("")
        out.append(f"{dim}{_('skipped:')}{reset}")
        for s in report.skipped:
            out += [
                f"{dim}{line}{reset}" for line in wrap(f"{s.rule}: {s.reason}", width, "  ", "    ")
            ]
    return "\n".join(out) + "\n"
