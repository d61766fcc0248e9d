"""The nodedoctor commands a report suggests, all made here, each carrying the node the
check was of (issue 15): after ``check --root /mnt/img`` a pasted ``fix`` edits the image,
never the machine it is pasted on; after ``check --bundle``, ``fix`` runs on the node itself.

Whether ``fix`` or ``clean`` does anything for a finding is the engine's word
(``FixHint.available``, ``FixHint.clean``: :func:`nodedoctor.engine.said_what_fixes`);
where they should run is the report's (``Report.node_options``, else ``node.root``).

>>> from nodedoctor.model import Finding, FixHint, Report, Severity
>>> fixable = Finding("swap-enabled", Severity.ERROR, "t", "m", fix=FixHint("s", available=True))
>>> report = Report("0", {"hostname": "n1", "root": "/mnt/my img"}, (fixable,), (), ())
>>> [s.line for s in suggestions(fixable, report)]
["nodedoctor fix --root '/mnt/my img' --only swap-enabled --apply"]
>>> bundle = Report("0", {"hostname": "n1", "root": "bundle:n1.tar.gz"}, (fixable,), (), ())
>>> [(s.lead, s.argv) for s in suggestions(fixable, bundle)]  # doctest: +NORMALIZE_WHITESPACE
[('nodedoctor does it on n1 itself (a bundle is a copy):',
  ('nodedoctor', 'fix', '--only', 'swap-enabled', '--apply'))]
"""

from __future__ import annotations

from nodedoctor._record import record
from nodedoctor.i18n import _
from nodedoctor.model import Finding, Report


@record
class Suggestion:
    """A command the report suggests (``argv``) and the words that go before it (``lead``,
    empty when the command says enough)."""

    lead: str
    argv: tuple[str, ...]

    @property
    def line(self) -> str:
        """The command as it is printed and pasted: one line, each word quoted for a POSIX
        shell where it needs it (``shlex.split`` gives ``argv`` back)."""
        return command_line(self.argv)


def command_line(argv: tuple[str, ...]) -> str:
    import shlex  # only when a report suggests a command

    return shlex.join(argv)


def node_options(report: Report) -> tuple[str, ...] | None:
    """The options that name the report's node (``--root DIR``, ``--bundle FILE``, ``--profile
    P``): those the check was given, else those its ``node.root`` tells (``/``: this machine,
    no option); None when neither is known."""
    if report.node_options is not None:
        return report.node_options
    root = report.node.get("root")
    if not isinstance(root, str) or not root:
        return None
    if root == "/":
        return ()
    if root.startswith("bundle:"):
        return ("--bundle", root[len("bundle:") :])
    return ("--root", root)


def _split(options: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """(the bundle file, the options without ``--bundle FILE``)."""
    if "--bundle" in options:
        i = options.index("--bundle")
        return options[i + 1], options[:i] + options[i + 2 :]
    return None, options


def _where(report: Report) -> str:
    """The node's host name, or "" when the report does not tell it."""
    host = report.node.get("hostname")
    return host if isinstance(host, str) and host else ""


def suggestions(finding: Finding, report: Report) -> list[Suggestion]:
    """The nodedoctor commands that act on ``finding``: ``fix`` when its remedy changes the
    node, ``clean`` when clean removes what it found; none when the report does not say which
    node it is of (a command without the target could change the wrong machine)."""
    options = node_options(report)
    fix = finding.fix
    if options is None or fix is None:
        return []
    bundle, on_node = _split(options)
    out: list[Suggestion] = []
    if fix.available:
        argv = ("nodedoctor", "fix", *on_node, "--only", finding.rule, "--apply")
        if bundle is None:
            lead = _("nodedoctor does it (it shows the plan and asks first):")
        elif _where(report):
            lead = _("nodedoctor does it on {host} itself (a bundle is a copy):").format(
                host=_where(report)
            )
        else:
            lead = _("nodedoctor does it on the node itself (a bundle is a copy):")
        out.append(Suggestion(lead, argv))
    if fix.clean:
        if bundle is None and "--root" not in on_node:
            lead = _("nodedoctor clean plans removing it with the other leftovers (then --apply):")
        elif _where(report):
            lead = _(
                "nodedoctor clean plans removing it (it removes only on {host} itself):"
            ).format(host=_where(report))
        else:
            lead = _("nodedoctor clean plans removing it (it removes only on the node itself):")
        out.append(Suggestion(lead, ("nodedoctor", "clean", *options)))
    return out


def explain(rule_id: str) -> Suggestion:
    """Where to read more: the rule's runbook (the same on every node)."""
    return Suggestion(_("more:"), ("nodedoctor", "explain", rule_id))
