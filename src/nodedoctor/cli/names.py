"""Names a user types: rule ids, family names and subcommands, matched without regard to case,
and a "did you mean" for a name that matches nothing.

Only the family table is read (no rule module is imported): ``check --only FAMILY`` in an NPD
plugin stays as cheap as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nodedoctor.cli.common import UsageError
from nodedoctor.i18n import _


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``candidates``, or ``""``.

    >>> suggestion("cgroup-driver-missmatch", ["cgroup-driver-mismatch", "swap-enabled"])
    " (did you mean 'cgroup-driver-mismatch'?)"
    >>> suggestion("zzz", ["swap-enabled"])
    ''
    """
    import difflib

    by_folded = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_folded), n=1, cutoff=0.6)
    if not close:
        return ""
    return _(" (did you mean {name!r}?)").format(name=by_folded[close[0]])


def canonical_rule_name(name: str, *, families: bool = True) -> str:
    """The rule id (or, with ``families``, the family name) that ``name`` spells, whatever its
    case. Raises :class:`UsageError`, with the closest name, when it spells none.

    >>> canonical_rule_name("Swap-Enabled")
    'swap-enabled'
    >>> canonical_rule_name("cgroupdrivermismatch")
    'CgroupDriverMismatch'
    """
    from nodedoctor.rules.families import FAMILIES, RULE_FAMILIES

    known: list[str] = [*RULE_FAMILIES, *(FAMILIES if families else ())]
    if name in known:
        return name
    folded = {k.lower(): k for k in known}
    if name.lower() in folded:
        return folded[name.lower()]
    from nodedoctor.rules import all_rules

    # An alias (a rule's former id) lives in its rule module: every module is read, but only
    # on the way to an error.
    for rule in all_rules():
        if name in rule.aliases:
            return name
    known += [a for rule in all_rules() for a in rule.aliases]
    from nodedoctor.rules.families import is_family_name

    unknown = (
        _("unknown rule family {name!r}{suggestion}; 'nodedoctor rules' lists them")
        if families and is_family_name(name)
        else _("unknown rule {name!r}{suggestion}; 'nodedoctor rules' lists them")
    )
    raise UsageError(unknown.format(name=name, suggestion=suggestion(name, known)))


def canonical_rule_names(names: Sequence[str], *, families: bool = True) -> list[str]:
    return [canonical_rule_name(n, families=families) for n in names]
