"""Problem families: the node conditions that node-problem-detector sets and the fleet
report groups by.

A rule names its family with ``Rule(family=...)``; a rule that kept the default is placed
by ``RULE_INDEX`` in ``rules/__init__.py`` (which also says which module registers it), so
the families stay one list that the NPD config in ``deploy/`` mirrors.
A family name is CamelCase (a Kubernetes condition type); rule ids are kebab-case, so
``check --only CgroupDriverMismatch`` can name a whole family without ambiguity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from nodedoctor.rules.base import Rule

#: The default ``Rule.family``: a rule that no family claims.
DEFAULT_FAMILY = "NodeMisconfigured"

#: Every family, with the one-line meaning shown as the NPD condition's healthy message.
FAMILIES: dict[str, str] = {
    "KernelCgroupsMissing": "the kernel gives the cgroup controllers the kubelet needs",
    "KubeletCgroupsBroken": "the kubelet can create and validate its cgroups",
    "CgroupDriverMismatch": "the kubelet and the runtime agree on the cgroup driver",
    "ContainerRuntimeMisconfigured": "the container runtime is configured for the kubelet",
    "BootstrapBroken": "the node's bootstrap (cloud-init, user-data) can run",
    "NodeTeardownLeftovers": "no mounts or cgroups are left from a torn-down cluster",
    DEFAULT_FAMILY: "no other node misconfiguration found",
    "NodedoctorInput": "nodedoctor could read and evaluate the node's files",
}

_FAMILY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def is_family_name(name: str) -> bool:
    """A CamelCase family name, never a rule id.

    >>> is_family_name("CgroupDriverMismatch"), is_family_name("cgroup-driver-mismatch")
    (True, False)
    """
    return bool(_FAMILY_NAME.match(name))


def family_of(rule: Rule) -> str:
    """The family a rule belongs to: its own ``family``, else the rule index's."""
    if rule.family != DEFAULT_FAMILY:
        return rule.family
    return _indexed_family(rule.id)


def _indexed_family(rule_id: str) -> str:
    from nodedoctor.rules import RULE_INDEX

    entry = RULE_INDEX.get(rule_id)
    return entry[1] if entry else DEFAULT_FAMILY


def family_of_id(rule_id: str, rules: Sequence[Rule]) -> str:
    for rule in rules:
        if rule.id == rule_id or rule_id in rule.aliases:
            return family_of(rule)
    return _indexed_family(rule_id)


def rules_in(family: str, rules: Sequence[Rule]) -> list[Rule]:
    return [r for r in rules if family_of(r) == family]


def expand_families(names: Iterable[str], rules: Sequence[Rule]) -> list[str]:
    """Rule ids for ``names``: a family name stands for its rules, a rule id for itself.

    Raises ``KeyError`` for a CamelCase name that is not a family.
    """
    out: list[str] = []
    for name in names:
        if is_family_name(name):
            if name not in FAMILIES:
                raise KeyError(name)
            out += [r.id for r in rules_in(name, rules)]
        else:
            out.append(name)
    return out
