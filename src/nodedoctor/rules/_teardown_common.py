"""What the teardown rules share: the mount table they need and how much evidence they show."""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.teardown import TeardownFacts, teardown_facts
from nodedoctor.i18n import _
from nodedoctor.rules.base import SkipRuleError

#: Mounts or cgroups shown as evidence; a torn-down node with 500 pods has thousands.
MAX_EVIDENCE = 8


def mounts_or_skip(facts: Facts) -> TeardownFacts:
    td = facts.get(teardown_facts)
    if not td.mounts_known:
        raise SkipRuleError(
            _("no mount table in this root (/proc/self/mountinfo, /proc/1/mountinfo, /proc/mounts)")
        )
    return td
