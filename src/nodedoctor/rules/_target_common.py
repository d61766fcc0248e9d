"""What the rules that judge a node against its target share (facts/target.py): whether a
prerequisite is the deployer's to set (then a node before the install is not wrong yet), and
the version a rule judges where no kubelet tells it."""

from __future__ import annotations

from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.deployers import BY_NAME
from nodedoctor.facts.kubelet import KubeletFacts
from nodedoctor.facts.preparation import AT_START
from nodedoctor.facts.processes import processes
from nodedoctor.facts.target import FLAG, Target
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.rules.base import SkipRuleError

#: Who sets a prerequisite themselves, in the words of a skip reason.
SETS_IT_THEMSELVES = N_(
    "k3s, RKE2 and MicroK8s set it at each start, Kubespray, KubeKey and kOps at install; "
    "kubeadm leaves it to you"
)


def deployer_takes_care(facts: Facts, t: Target, field: str, what: str) -> str | None:
    """Why the value of prerequisite ``field`` of facts/preparation.py (``ip_forward``,
    ``bridge_netfilter``; ``what``, its name in a sentence, already translated) is not to be
    judged on this node, ``None`` when it is: before the
    install, the deployer sets it itself; installed, a deployer that sets it at each start
    is not running (it will set it when it starts). Raises :class:`SkipRuleError` for a node
    with nothing installed and no deployer named."""
    prep = t.preparation
    when = getattr(prep, field) if prep is not None else None
    if t.before_install or t.before_kubeadm_join:
        if t.deployer is None:
            raise SkipRuleError(
                _(
                    "no kubelet is installed and no deployer is named: whether {what} must be "
                    "set before the install depends on it ({who}); --profile names it"
                ).format(what=what, who=_(SETS_IT_THEMSELVES))
            )
        if when is not None:
            return _("{deployer} sets {what} itself").format(deployer=t.deployer, what=what)
        return None
    if when == AT_START:
        procs = facts.get(processes)
        if not procs.known or procs.kubelet() is None:
            return _("{deployer} sets {what} itself when it starts, and it does not run").format(
                deployer=t.deployer, what=what
            )
    return None


def judged_kubelet_version(k: KubeletFacts, t: Target) -> Sourced[Version] | None:
    """The kubelet version a rule judges: the installed kubelet's; where none is installed,
    the target's (``--kubernetes-version`` or the deployer's default); for an installed
    kubelet of unknown version, ``--kubernetes-version`` only (a deployer's default says
    nothing of what was installed long ago)."""
    if k.installed and k.version is not None:
        return k.version
    if not k.installed or t.version_source == FLAG:
        return t.sourced_version
    return None


def deployer_title(t: Target) -> str:
    """The deployer's name as people write it (``Kubespray``, ``kOps``), for messages (in
    the language of the report where none is named)."""
    deployer = BY_NAME.get(t.deployer or "")
    return deployer.title if deployer is not None else _("the deployer")
