"""runtime-version-unsupported: the container runtime is too old for this kubelet (research
runtimes.md §1.2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.target import target_facts
from nodedoctor.facts.versions import Version
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import configured_kubelet, version_text
from nodedoctor.rules._runtime_common import RUNTIME_NOTHING_FOUND, configured_runtime
from nodedoctor.rules._target_common import deployer_title, judged_kubelet_version
from nodedoctor.rules.base import Rule, SkipRuleError

#: containerd RELEASES.md compatibility matrix (research runtimes.md §1.2): kubelet minor ->
#: the oldest containerd patch release per minor line that supports it.
_CONTAINERD_MATRIX: dict[tuple[int, int], dict[tuple[int, int], tuple[int, int, int]]] = {
    (1, 35): {(2, 2): (2, 2, 0), (2, 1): (2, 1, 5), (1, 7): (1, 7, 28)},
    (1, 36): {(2, 3): (2, 3, 0), (2, 2): (2, 2, 0)},
}


def _matrix_problem(kubelet: Version, containerd: Version) -> str | None:
    table = _CONTAINERD_MATRIX.get(kubelet.minor)
    if table is None:
        return None
    newest = max(table)
    if containerd.minor > newest:
        return None
    floor = table.get(containerd.minor)
    if floor is not None and containerd >= floor:
        return None
    lines = ", ".join(f"{a}.{b}.{c}+" for a, b, c in sorted(table.values(), reverse=True))
    return (
        f"containerd's compatibility matrix lists {lines} for Kubernetes "
        f"{kubelet.release[0]}.{kubelet.release[1]}; {containerd.release[0]}."
        f"{containerd.release[1]}.{containerd.release[2]} is not among them"
    )


def _kubelet_version(facts: Facts) -> Sourced[Version]:
    """The kubelet version the runtime must suit: the installed kubelet's (its configuration
    need not be written yet), else the target's (facts/target.py) where the deployer uses the
    runtime that is on the node."""
    k = facts.get(kubelet_facts)
    t = facts.get(target_facts)
    if k.installed:
        if not t.before_kubeadm_join:
            k = configured_kubelet(facts, RUNTIME_NOTHING_FOUND)
        judged = judged_kubelet_version(k, t)
        if judged is None:
            raise SkipRuleError("the kubelet's version is unknown")
        return judged
    prep = t.preparation
    if prep is None:
        raise SkipRuleError(
            "no kubelet is installed and no deployer is named (--profile names it): some "
            "bring their own container runtime"
        )
    if prep.own_runtime:
        raise SkipRuleError(
            f"no kubelet is installed yet and {deployer_title(t)} installs its own container "
            "runtime"
        )
    if t.sourced_version is None:
        raise SkipRuleError(
            f"the Kubernetes version {deployer_title(t)} will install is unknown "
            "(--kubernetes-version gives it)"
        )
    return t.sourced_version


def _check_version_unsupported(facts: Facts) -> Iterator[Issue]:
    kubelet = _kubelet_version(facts)
    r = configured_runtime(facts)
    kv = kubelet.value
    if r.version is None:
        raise SkipRuleError(f"the version of {r.name} is unknown")
    reasons: list[str] = []
    severity = Severity.WARNING
    if kv >= (1, 36) and r.implements_runtime_config is False:
        reasons.append(
            f"{r.name} {r.version.value} does not implement the CRI RuntimeConfig call; "
            "the kubelet's fallback to its own cgroupDriver is to be removed in kubelet 1.38 "
            "(kubernetes#139121, KEP-4033; kubeadm 1.35.0-1.35.3 still announce 1.36)"
        )
        if kv >= (1, 38):
            severity = Severity.ERROR
    if r.name == "containerd":
        why = _matrix_problem(kv, r.version.value)
        if why:
            reasons.append(why)
    if not reasons:
        return
    upgrade = {
        "containerd": "containerd 2.2 or newer",
        "cri-o": "CRI-O 1.28 or newer",
        "cri-dockerd": "cri-dockerd 0.3.17 or newer",
    }.get(r.name or "", "a newer runtime")
    from nodedoctor.remedies.by_hand import UPGRADE_RUNTIME  # only for a finding

    yield Issue(
        title=f"{r.name} {r.version.value} is too old for {version_text(kv)}",
        message="; ".join(reasons),
        evidence=(kubelet.evidence, r.version.evidence),
        severity=severity,
        fix=FixHint(
            summary=f"drain the node and upgrade to {upgrade} (package manager), then uncordon",
            restart=((r.name or "containerd"), "kubelet"),
        ),
        impact=(
            "`[WARNING ContainerRuntimeVersion]: You must update your container runtime to a "
            "version that supports the CRI method RuntimeConfig.` in kubeadm; without the "
            "fallback the kubelet cannot learn the cgroup driver"
        ),
        remedy=UPGRADE_RUNTIME,
    )


RULE = Rule(
    id="runtime-version-unsupported",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title="the container runtime is too old for this kubelet",
    check=_check_version_unsupported,
    tags=("runtime", "containerd", "cri-o", "version"),
    applies_to="kubelet 1.35+ (containerd compatibility matrix); 1.36+ without RuntimeConfig",
)
