"""containerd-config-ignored: tables of containerd's configuration that it never reads, or
refuses (research runtimes.md §1.3-1.4)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.i18n import N_
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._runtime_common import installed_containerd
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_config_ignored(facts: Facts) -> Iterator[Issue]:
    c = installed_containerd(facts)
    if not c.files and c.unknown:
        raise SkipRuleError(c.unknown)
    for p in c.problems:
        from nodedoctor.remedies.containerd import config_ignored_remedy  # only for a finding

        yield Issue(
            title=p.title,
            message=p.message,
            evidence=p.evidence,
            severity=p.severity,
            fix=FixHint(summary=p.fix, files=p.files, restart=("containerd",)),
            remedy=config_ignored_remedy(facts),
        )


RULE = Rule(
    id="containerd-config-ignored",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("containerd will not read (or refuses) part of its configuration"),
    check=_check_config_ignored,
    tags=("containerd", "runtime", "config"),
    applies_to=N_("containerd 1.x and 2.x; MicroK8s and k3s templates"),
)
