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


def _before_install(facts: Facts) -> Iterator[Issue]:
    """No kubelet yet: what the deployer does about swap (facts/preparation.py)."""
    t = facts.get(target_facts)
    prep = t.preparation
    if prep is None:
        raise SkipRuleError(
            "no kubelet is installed and no deployer is named: whether swap stops it depends "
            "on the deployer (kubeadm and kOps keep failSwapOn true, Kubespray and KubeKey turn "
            "swap off, k3s, RKE2 and MicroK8s run with it); --profile names it"
        )
    swap = facts.get(swap_facts)
    who = deployer_title(t)
    evidence = (*swap.evidence, *(e for e in (t.deployer_evidence,) if e is not None))
    if prep.swap == SWAP_REFUSED:
        yield Issue(
            title=f"swap is on and the kubelet {who} will install refuses it",
            message=(
                f"/proc/swaps lists active swap and {who} keeps the kubelet's failSwapOn "
                f'default (true): the kubelet will exit with "{KUBELET_REFUSES}"'
                + (
                    f'; kubeadm\'s preflight prints "{_kubeadm_preflight(t.kubernetes_version)}"'
                    if t.deployer in KUBEADM_LIKE
                    else ""
                )
            ),
            evidence=evidence,
            severity=Severity.ERROR,
            fix=FixHint(
                summary=(
                    "turn swap off (swapoff -a) and comment its line out of /etc/fstab (or mask "
                    "the swap unit) before the install; or, on cgroup v2 only, install with "
                    "failSwapOn: false and memorySwap.swapBehavior"
                ),
                files=("/etc/fstab",),
                commands=("swapoff -a",),
                reboot=_at_boot(facts),
            ),
            impact="the kubelet does not start after the install; the node never becomes Ready",
            remedy=_swap_off(facts),
        )
        return
    cg = facts.get(cgroup_facts)
    if prep.swap == SWAP_TOLERATED and cg.mode is not None and cg.mode is not CgroupMode.V2:
        yield Issue(
            title=f"swap is on and {who}'s kubelet will run on cgroup {cg.mode.value}, where it "
            "cannot control swap",
            message=(
                f"{who} runs its kubelet with failSwapOn false, so swap does not stop it, but "
                f"swap is supported for cgroup v2 only: on this cgroup {cg.mode.value} host the "
                "kubelet cannot limit pods' swap use"
            ),
            evidence=(*evidence, *((cg.mode_evidence,) if cg.mode_evidence else ())),
            severity=Severity.WARNING,
            fix=FixHint(
                summary="turn swap off (swapoff -a and /etc/fstab), or move the host to cgroup v2",
                files=("/etc/fstab",),
                commands=("swapoff -a",),
                reboot=_at_boot(facts),
            ),
            impact="pods may swap without limits; memory accounting and eviction are distorted",
            remedy=_swap_off(facts),
        )


def _check_swap(facts: Facts) -> Iterator[Issue]:
    swap = facts.get(swap_facts)
    if swap.active is None:
        raise SkipRuleError("/proc/swaps is not in this root")
    if not swap.active:
        return
    k = facts.get(kubelet_facts)
    if not k.installed:
        yield from _before_install(facts)
        return
    if not k.readable:
        raise SkipRuleError(f"the kubelet's configuration cannot be read: {'; '.join(k.problems)}")
    fail = k.setting("failSwapOn")
    if fail is None or fail.value is None:
        raise SkipRuleError("failSwapOn has a value the kubelet refuses")
    cg = facts.get(cgroup_facts)
    restart, commands = kubelet_restart(k)
    evidence = (*swap.evidence, fail.evidence)
    if fail.value is True:
        yield Issue(
            title="swap is on and the kubelet refuses to run with it",
            message=(
                ("the kubelet is not configured yet; with the default " if k.pending else "")
                + "failSwapOn is true and /proc/swaps lists active swap: the kubelet exits with "
                '"running with swap on is not supported, please disable swap or set '
                '--fail-swap-on flag to false"'
            ),
            evidence=evidence,
            severity=Severity.ERROR,
            fix=FixHint(
                summary=(
                    "turn swap off (swapoff -a) and remove it from /etc/fstab (or mask the "
                    "swap unit); or, on cgroup v2 only, set failSwapOn: false with "
                    "memorySwap.swapBehavior"
                ),
                files=("/etc/fstab",),
                restart=restart,
                commands=("swapoff -a", *commands),
                reboot=_at_boot(facts),
            ),
            impact="the kubelet does not start; the node stays NotReady",
            remedy=_swap_off(facts),
        )
        return
    if cg.mode is not None and cg.mode is not CgroupMode.V2:
        yield Issue(
            title="swap is on with the kubelet on cgroup v1, where it cannot control swap",
            message=(
                "failSwapOn is false so the kubelet starts, but swap is supported for cgroup v2 "
                "only: on this cgroup "
                f"{cg.mode.value} host the kubelet cannot limit pods' swap use"
            ),
            evidence=(*evidence, *((cg.mode_evidence,) if cg.mode_evidence else ())),
            severity=Severity.WARNING,
            fix=FixHint(
                summary="turn swap off (swapoff -a and /etc/fstab), or move the host to cgroup v2",
                files=("/etc/fstab",),
                commands=("swapoff -a",),
                reboot=_at_boot(facts),
            ),
            impact="pods may swap without limits; memory accounting and eviction are distorted",
            remedy=_swap_off(facts),
        )


RULE = Rule(
    id="swap-enabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="swap is active while the kubelet would refuse it or cannot control it",
    check=_check_swap,
    tags=("swap", "kubelet"),
)
