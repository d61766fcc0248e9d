"""swap-enabled: swap is active while the kubelet would refuse it or cannot control it
(research kubelet-cgroups.md §1.4, §2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.deployers import BY_NAME
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.swap import swap_facts
from nodedoctor.facts.target import target_facts
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import kubelet_restart
from nodedoctor.rules.base import Rule, SkipRuleError

if TYPE_CHECKING:
    from nodedoctor.remedies.steps import Remedy


def fstab_swap_lines(facts: Facts) -> tuple[tuple[int, str], ...]:
    """The active swap lines of /etc/fstab (``(line, text)``): type field ``swap``."""
    text = facts.read("/etc/fstab") or ""
    out = []
    for n, line in enumerate(text.splitlines()[:10000], 1):
        fields = line.split()
        if len(fields) >= 3 and not fields[0].startswith("#") and fields[2] == "swap":
            out.append((n, line))
    return tuple(out)


def _swap_remedy(facts: Facts) -> Remedy | None:
    from nodedoctor.remedies.sysctl import swap_off_remedy  # a finding only

    lines = fstab_swap_lines(facts)
    return swap_off_remedy(lines) if lines else None


def _check_swap(facts: Facts) -> Iterator[Issue]:
    swap = facts.get(swap_facts)
    if swap.active is None:
        raise SkipRuleError("/proc/swaps is not in this root")
    if not swap.active:
        return
    k = facts.get(kubelet_facts)
    if not k.installed:
        yield from _before_install(facts, swap.evidence)
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
            ),
            impact="the kubelet does not start; the node stays NotReady",
            remedy=_swap_remedy(facts),
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
            ),
            impact="pods may swap without limits; memory accounting and eviction are distorted",
        )


#: kubeadm's SwapCheck (cmd/kubeadm/app/preflight/checks.go), a warning in kubeadm's preflight.
KUBEADM_SWAP_WARNING = (
    "[WARNING Swap]: swap is supported for cgroup v2 only. The kubelet must be properly "
    "configured to use swap. Please refer to "
    "https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on "
    "the node"
)


def _before_install(facts: Facts, swap_evidence: tuple[Evidence, ...]) -> Iterator[Issue]:
    """No kubelet yet: what the target's kubelet will do with the swap that is on. Only kubeadm
    is judged: it leaves swap and the kubelet's default failSwapOn: true as they are. k3s and
    RKE2 pass --fail-swap-on=false themselves (facts/deployers.py); how the other deployers
    treat swap at install is not modelled, so they are not judged."""
    target = facts.get(target_facts)
    if not target.declared:
        raise SkipRuleError("no kubelet is installed on this node")
    deployer = target.deployer
    if deployer is None:
        raise SkipRuleError("no kubelet is installed and no deployer is named (--profile)")
    model = BY_NAME[deployer]
    if any(d.flag == "--fail-swap-on=false" for d in model.kubelet_defaults):
        return
    if deployer != "kubeadm":
        raise SkipRuleError(
            f"no kubelet is installed; how {model.title} treats swap is not modelled"
        )
    vtext = f"kubelet {target.minor_text}" if target.minor_text else "the kubelet"
    yield Issue(
        title="swap is on and the kubelet kubeadm will set up refuses to run with it",
        message=(
            "nothing is installed yet; /proc/swaps lists active swap. kubeadm's preflight "
            f'prints "{KUBEADM_SWAP_WARNING}", and {vtext} with kubeadm\'s default '
            'failSwapOn: true exits with "running with swap on is not supported, please '
            'disable swap or set --fail-swap-on flag to false"'
        ),
        evidence=(*swap_evidence, *target.evidence),
        severity=Severity.ERROR,
        fix=FixHint(
            summary=(
                "turn swap off (swapoff -a) and comment its line in /etc/fstab (or mask the swap "
                "unit) before kubeadm init/join; or, on cgroup v2 only, give kubeadm a "
                "KubeletConfiguration with failSwapOn: false and memorySwap.swapBehavior"
            ),
            files=("/etc/fstab",),
            commands=("swapoff -a",),
        ),
        impact="kubeadm init/join waits for a kubelet that never becomes healthy",
        remedy=_swap_remedy(facts),
    )


RULE = Rule(
    id="swap-enabled",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="swap is active while the kubelet would refuse it or cannot control it",
    check=_check_swap,
    tags=("swap", "kubelet"),
)
