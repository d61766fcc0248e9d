"""internal-error: a rule crashed. The engine reports a crashing rule under this id; the rule
itself checks nothing."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.i18n import N_
from nodedoctor.model import Issue, Severity
from nodedoctor.rules.base import Rule


def _no_check(facts: Facts) -> Iterator[Issue]:
    """The engine itself reports a crashing rule under this id."""
    return iter(())


RULE = Rule(
    id="internal-error",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("a rule crashed; its verdict is unknown"),
    check=_no_check,
    tags=("nodedoctor",),
)
