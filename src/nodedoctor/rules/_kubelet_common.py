"""What the rules about the kubelet share: the kubelet they judge (or the reason they skip),
how its version is named in a message, and how its unit is restarted."""

from __future__ import annotations

from nodedoctor.facts import Facts
from nodedoctor.facts.kubelet import KubeletFacts, kubelet_facts
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.rules.base import SkipRuleError

MICROK8S_UNIT = "snap.microk8s.daemon-kubelite.service"
#: Why a kubelet cannot be judged when it has neither flags nor a configuration file.
NOTHING_FOUND = N_("no kubelet flags or configuration file were found")


def configured_kubelet(facts: Facts, nothing_found: str = NOTHING_FOUND) -> KubeletFacts:
    """The kubelet's facts, or the skip that says why a rule cannot judge it
    (``nothing_found``: a message marked with ``N_``, translated here)."""
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError(_("no kubelet is installed on this node"))
    if not k.configured:
        why = "; ".join((*k.problems, *k.pending)) or _(nothing_found)
        raise SkipRuleError(_("the kubelet's configuration cannot be read: {why}").format(why=why))
    return k


def version_text(version: Version | None) -> str:
    """``kubelet 1.30``, or the kubelet (translated) when its version is unknown."""
    return f"kubelet {version.release[0]}.{version.release[1]}" if version else _("the kubelet")


def kubelet_restart(k: KubeletFacts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(services to restart, commands) for the kubelet's unit."""
    unit = k.unit or "kubelet.service"
    if unit == MICROK8S_UNIT:
        return (unit.removesuffix(".service"),), ("snap restart microk8s",)
    return (unit.removesuffix(".service"),), (f"systemctl restart {unit}",)
