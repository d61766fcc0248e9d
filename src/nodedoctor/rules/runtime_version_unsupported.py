"""runtime-version-unsupported: the container runtime is too old for this kubelet (research
runtimes.md §1.2)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.target import target_facts
from nodedoctor.facts.versions import Version
from nodedoctor.i18n import N_, _
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

#: What to upgrade to, by runtime (research runtimes.md §1.2).
UPGRADES = {
    "containerd": N_("containerd 2.2 or newer"),
    "cri-o": N_("CRI-O 1.28 or newer"),
    "cri-dockerd": N_("cri-dockerd 0.3.17 or newer"),
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
    return _(
        "containerd's compatibility matrix lists {lines} for Kubernetes {kubernetes}; "
        "{containerd} is not among them"
    ).format(
        lines=lines,
        kubernetes=f"{kubelet.release[0]}.{kubelet.release[1]}",
        containerd=".".join(str(n) for n in containerd.release[:3]),
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
            raise SkipRuleError(_("the kubelet's version is unknown"))
        return judged
    prep = t.preparation
    if prep is None:
        raise SkipRuleError(
            _(
                "no kubelet is installed and no deployer is named (--profile names it): some "
                "bring their own container runtime"
            )
        )
    if prep.own_runtime:
        raise SkipRuleError(
            _(
                "no kubelet is installed yet and {deployer} installs its own container runtime"
            ).format(deployer=deployer_title(t))
        )
    if t.sourced_version is None:
        raise SkipRuleError(
            _(
                "the Kubernetes version {deployer} will install is unknown "
                "(--kubernetes-version gives it)"
            ).format(deployer=deployer_title(t))
        )
    return t.sourced_version


def _check_version_unsupported(facts: Facts) -> Iterator[Issue]:
    kubelet = _kubelet_version(facts)
    r = configured_runtime(facts)
    kv = kubelet.value
    if r.version is None:
        raise SkipRuleError(_("the version of {runtime} is unknown").format(runtime=r.name))
    severity = Severity.WARNING
    no_runtime_config = kv >= (1, 36) and r.implements_runtime_config is False
    if no_runtime_config and kv >= (1, 38):
        severity = Severity.ERROR
    matrix = _matrix_problem(kv, r.version.value) if r.name == "containerd" else None
    if not no_runtime_config:
        if not matrix:
            return
        message = matrix
    else:
        template = (
            _(
                "{runtime} {version} does not implement the CRI RuntimeConfig call; the "
                "kubelet's fallback to its own cgroupDriver is to be removed in kubelet 1.38 "
                "(kubernetes#139121, KEP-4033; kubeadm 1.35.0-1.35.3 still announce 1.36); "
                "{matrix}"
            )
            if matrix
            else _(
                "{runtime} {version} does not implement the CRI RuntimeConfig call; the "
                "kubelet's fallback to its own cgroupDriver is to be removed in kubelet 1.38 "
                "(kubernetes#139121, KEP-4033; kubeadm 1.35.0-1.35.3 still announce 1.36)"
            )
        )
        message = template.format(runtime=r.name, version=r.version.value, matrix=matrix)
    upgrade = _(UPGRADES.get(r.name or "", N_("a newer runtime")))
    from nodedoctor.remedies.by_hand import UPGRADE_RUNTIME  # only for a finding

    yield Issue(
        title=_("{runtime} {version} is too old for {kubelet}").format(
            runtime=r.name, version=r.version.value, kubelet=version_text(kv)
        ),
        message=message,
        evidence=(kubelet.evidence, r.version.evidence),
        severity=severity,
        fix=FixHint(
            summary=_(
                "drain the node and upgrade to {upgrade} (package manager), then uncordon"
            ).format(upgrade=upgrade),
            restart=((r.name or "containerd"), "kubelet"),
        ),
        impact=_(
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
    title=N_("the container runtime is too old for this kubelet"),
    check=_check_version_unsupported,
    tags=("runtime", "containerd", "cri-o", "version"),
    applies_to=N_("kubelet 1.35+ (containerd compatibility matrix); 1.36+ without RuntimeConfig"),
)
