"""swap-enabled: swap is active while the kubelet would refuse it or cannot control it
(research kubelet-cgroups.md §1.4, §2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.preparation import SWAP_REFUSED, SWAP_TOLERATED
from nodedoctor.facts.swap import swap_facts
from nodedoctor.facts.target import KUBEADM_LIKE, target_facts
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import kubelet_restart
from nodedoctor.rules._target_common import deployer_title
from nodedoctor.rules.base import Rule, SkipRuleError

if TYPE_CHECKING:
    from nodedoctor.remedies.steps import Remedy

KUBELET_REFUSES = (
    "running with swap on is not supported, please disable swap or set --fail-swap-on flag to false"
)


#: kubeadm's SwapCheck (cmd/kubeadm/app/preflight/checks.go), a warning in kubeadm's preflight.
#: What either finding on a cgroup v1 host does (translated where used).
UNCONTROLLED_IMPACT = N_(
    "pods may swap without limits; memory accounting and eviction are distorted"
)
#: The fix on a cgroup v1 host.
UNCONTROLLED_FIX = N_("turn swap off (swapoff -a and /etc/fstab), or move the host to cgroup v2")

KUBEADM_SWAP_WARNING = (
    "[WARNING Swap]: swap is supported for cgroup v2 only. The kubelet must be properly "
    "configured to use swap. Please refer to "
    "https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on "
    "the node"
)


def _kubeadm_preflight(version: Version | None) -> str:
    """What kubeadm's preflight prints about swap, by release (research kubelet-cgroups.md §3)."""
    if version is None or version >= (1, 31):
        return KUBEADM_SWAP_WARNING
    if version >= (1, 29):
        return (
            "[WARNING Swap]: swap is supported for cgroup v2 only; the NodeSwap feature gate "
            "of the kubelet is beta but disabled by default"
        )
    if version >= (1, 24):
        return (
            "[WARNING Swap]: swap is enabled; production deployments should disable swap "
            "unless testing the NodeSwap feature gate of the kubelet"
        )
    return "[ERROR Swap]: running with swap on is not supported. Please disable swap"


def _swap_off(facts: Facts) -> Remedy:
    from nodedoctor.remedies.sysctl import swap_off_remedy  # only for a finding

    return swap_off_remedy(facts)


def _at_boot(facts: Facts) -> bool:
    """Whether the swap-off remedy takes effect at the next boot (a root copy or an image
    whose fstab starts the swap)."""
    from nodedoctor.remedies.steps import Reboot  # only for a finding

    return any(isinstance(s, Reboot) for s in _swap_off(facts).steps)


def _uncontrolled_fix(facts: Facts) -> FixHint:
    """Swap off where the kubelet runs with it on cgroup v1, which cannot control it."""
    return FixHint(
        summary=_(UNCONTROLLED_FIX),
        files=("/etc/fstab",),
        commands=("swapoff -a",),
        reboot=_at_boot(facts),
    )


def _before_install(facts: Facts) -> Iterator[Issue]:
    """No kubelet yet: what the deployer does about swap (facts/preparation.py)."""
    t = facts.get(target_facts)
    prep = t.preparation
    if prep is None:
        raise SkipRuleError(
            _(
                "no kubelet is installed and no deployer is named: whether swap stops it "
                "depends on the deployer (kubeadm and kOps keep failSwapOn true, Kubespray and "
                "KubeKey turn swap off, k3s, RKE2 and MicroK8s run with it); --profile names it"
            )
        )
    swap = facts.get(swap_facts)
    who = deployer_title(t)
    evidence = (*swap.evidence, *(e for e in (t.deployer_evidence,) if e is not None))
    if prep.swap == SWAP_REFUSED:
        if t.deployer in KUBEADM_LIKE:
            message = _(
                "/proc/swaps lists active swap and {who} keeps the kubelet's failSwapOn default "
                '(true): the kubelet will exit with "{error}"; kubeadm\'s preflight prints '
                '"{preflight}"'
            )
        else:
            message = _(
                "/proc/swaps lists active swap and {who} keeps the kubelet's failSwapOn default "
                '(true): the kubelet will exit with "{error}"'
            )
        yield Issue(
            title=_("swap is on and the kubelet {who} will install refuses it").format(who=who),
            message=message.format(
                who=who,
                error=KUBELET_REFUSES,
                preflight=_kubeadm_preflight(t.kubernetes_version),
            ),
            evidence=evidence,
            severity=Severity.ERROR,
            fix=FixHint(
                summary=_(
                    "turn swap off (swapoff -a) and comment its line out of /etc/fstab (or mask "
                    "the swap unit) before the install; or, on cgroup v2 only, install with "
                    "failSwapOn: false and memorySwap.swapBehavior"
                ),
                files=("/etc/fstab",),
                commands=("swapoff -a",),
                reboot=_at_boot(facts),
            ),
            impact=_("the kubelet does not start after the install; the node never becomes Ready"),
            remedy=_swap_off(facts),
        )
        return
    cg = facts.get(cgroup_facts)
    if prep.swap == SWAP_TOLERATED and cg.mode is not None and cg.mode is not CgroupMode.V2:
        yield Issue(
            title=_(
                "swap is on and {who}'s kubelet will run on cgroup {mode}, where it cannot "
                "control swap"
            ).format(who=who, mode=cg.mode.value),
            message=_(
                "{who} runs its kubelet with failSwapOn false, so swap does not stop it, but "
                "swap is supported for cgroup v2 only: on this cgroup {mode} host the kubelet "
                "cannot limit pods' swap use"
            ).format(who=who, mode=cg.mode.value),
            evidence=(*evidence, *((cg.mode_evidence,) if cg.mode_evidence else ())),
            severity=Severity.WARNING,
            fix=_uncontrolled_fix(facts),
            impact=_(UNCONTROLLED_IMPACT),
            remedy=_swap_off(facts),
        )


def _check_swap(facts: Facts) -> Iterator[Issue]:
    swap = facts.get(swap_facts)
    if swap.active is None:
        raise SkipRuleError(_("/proc/swaps is not in this root"))
    if not swap.active:
        return
    k = facts.get(kubelet_facts)
    if not k.installed:
        yield from _before_install(facts)
        return
    if not k.readable:
        raise SkipRuleError(
            _("the kubelet's configuration cannot be read: {problems}").format(
                problems="; ".join(k.problems)
            )
        )
    fail = k.setting("failSwapOn")
    if fail is None or fail.value is None:
        raise SkipRuleError(_("failSwapOn has a value the kubelet refuses"))
    cg = facts.get(cgroup_facts)
    restart, commands = kubelet_restart(k)
    evidence = (*swap.evidence, fail.evidence)
    if fail.value is True:
        yield Issue(
            title=_("swap is on and the kubelet refuses to run with it"),
            message=(
                _(
                    "the kubelet is not configured yet; with the default failSwapOn is true "
                    'and /proc/swaps lists active swap: the kubelet exits with "{error}"'
                )
                if k.pending
                else _(
                    "failSwapOn is true and /proc/swaps lists active swap: the kubelet exits "
                    'with "{error}"'
                )
            ).format(error=KUBELET_REFUSES),
            evidence=evidence,
            severity=Severity.ERROR,
            fix=FixHint(
                summary=_(
                    "turn swap off (swapoff -a) and remove it from /etc/fstab (or mask the "
                    "swap unit); or, on cgroup v2 only, set failSwapOn: false with "
                    "memorySwap.swapBehavior"
                ),
                files=("/etc/fstab",),
                restart=restart,
                commands=("swapoff -a", *commands),
                reboot=_at_boot(facts),
            ),
            impact=_("the kubelet does not start; the node stays NotReady"),
            remedy=_swap_off(facts),
        )
        return
    if cg.mode is not None and cg.mode is not CgroupMode.V2:
        yield Issue(
            title=_("swap is on with the kubelet on cgroup v1, where it cannot control swap"),
            message=_(
                "failSwapOn is false so the kubelet starts, but swap is supported for cgroup v2 "
                "only: on this cgroup {mode} host the kubelet cannot limit pods' swap use"
            ).format(mode=cg.mode.value),
            evidence=(*evidence, *((cg.mode_evidence,) if cg.mode_evidence else ())),
            severity=Severity.WARNING,
            fix=_uncontrolled_fix(facts),
            impact=_(UNCONTROLLED_IMPACT),
            remedy=_swap_off(facts),
        )


RULE = Rule(
    id="swap-enabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("swap is active while the kubelet would refuse it or cannot control it"),
    check=_check_swap,
    tags=("swap", "kubelet"),
)
