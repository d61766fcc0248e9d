"""cgroup-v1-unsupported: the host runs cgroup v1 (or hybrid), which the kubelet deprecates and
then refuses (research kubelet-cgroups.md §0, §2: failCgroupV1)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.kubelet.defaults import default_setting
from nodedoctor.facts.target import target_facts
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import kubelet_restart, version_text
from nodedoctor.rules.base import Rule, SkipRuleError


def _check_v1_unsupported(facts: Facts) -> Iterator[Issue]:
    cg = facts.get(cgroup_facts)
    if cg.mode is None:
        raise SkipRuleError("the cgroup mode of this root is unknown (no mount table)")
    if cg.mode is CgroupMode.V2:
        return
    k = facts.get(kubelet_facts)
    if not k.installed:
        yield from _before_install(facts, cg.mode, cg.mode_evidence)
        return
    fail = k.setting("failCgroupV1")
    explicit = fail is not None and not fail.is_default
    if not k.readable and not explicit:
        raise SkipRuleError(f"the kubelet's configuration cannot be read: {'; '.join(k.problems)}")
    version = k.version.value if k.version else None
    evidence = [cg.mode_evidence] if cg.mode_evidence else []
    if k.version is not None:
        evidence.append(k.version.evidence)
    if fail is not None:
        evidence.append(fail.evidence)
    vtext = version_text(version)
    mode = (
        "hybrid (v1 controllers with a v2 tree beside them)"
        if cg.mode is CgroupMode.HYBRID
        else "v1"
    )
    refuses = fail is not None and fail.value is True and (version is None or version >= (1, 31))
    files = (k.config_path.value,) if k.config_path else ()
    restart, _ = kubelet_restart(k)
    migrate = (
        "move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command "
        "line, or an OS release that boots v2), then reboot"
    )
    if version is None and not explicit:
        # Wrong for every kubelet that matters: an unknown version must not hide it.
        yield Issue(
            title=f"cgroup {cg.mode.value}: deprecated from kubelet 1.31, refused from 1.35",
            message=(
                f"the host is on cgroup {mode}, which the kubelet counts as v1, and the "
                "kubelet's version is unknown (no package or kubeadm configuration names it). "
                "cgroup v1 is in maintenance mode from kubelet 1.31, and from 1.35 the kubelet "
                "refuses to start on it unless failCgroupV1: false (KEP-5573): "
                '"kubelet is configured to not run on a host using cgroup v1"'
            ),
            evidence=tuple(evidence),
            severity=Severity.WARNING,
            fix=FixHint(summary=migrate, reboot=True),
            impact="kubelet 1.35 and later do not start on this host; 1.31-1.34 run with a "
            "CgroupV1 warning event; v2-only features are unavailable",
        )
        return
    if refuses:
        tail = (
            "unsupported and will be removed in a future release"
            if version is None or version >= (1, 35)
            else "in maintenance mode"
        )
        yield Issue(
            title=f"{vtext} refuses to run on cgroup {cg.mode.value}",
            message=(
                f"the host is on cgroup {mode}, which the kubelet counts as v1, and failCgroupV1 "
                f'is true: the kubelet exits with "kubelet is configured to not run on a host '
                f'using cgroup v1. cgroup v1 support is {tail}"'
            ),
            evidence=tuple(evidence),
            severity=Severity.ERROR,
            fix=FixHint(
                summary=f"{migrate}; or, as a stopgap, set failCgroupV1: false in the kubelet "
                "configuration (kubeadm also needs its SystemVerification check skipped)",
                files=files,
                reboot=True,
                restart=restart,
            ),
            impact="the kubelet does not start; the node stays NotReady",
        )
        return
    if version is not None and version < (1, 31):
        yield Issue(
            title=f"cgroup {cg.mode.value}: fine for {vtext}, refused from kubelet 1.35",
            message=(
                f"the host is on cgroup {mode}. {vtext} runs on it, but cgroup v1 is in "
                "maintenance mode from 1.31 and kubelet 1.35+ refuses it unless failCgroupV1: "
                "false; plan the move to cgroup v2 before upgrading"
            ),
            evidence=tuple(evidence),
            severity=Severity.INFO,
            fix=FixHint(summary=migrate, reboot=True),
        )
        return
    yield Issue(
        title=f"cgroup {cg.mode.value} is deprecated for {vtext}",
        message=(
            f"the host is on cgroup {mode}. {vtext} still runs"
            + (" because failCgroupV1 is false" if explicit else "")
            + ", but cgroup v1 support is in maintenance mode (1.31-1.34) and unsupported from "
            "1.35 (KEP-5573); the kubelet reports a CgroupV1 warning event and new features "
            "need v2"
        ),
        evidence=tuple(evidence),
        severity=Severity.WARNING,
        fix=FixHint(summary=migrate, reboot=True),
        impact="the next kubelet upgrade may refuse to start; v2-only features are unavailable",
    )


def _before_install(
    facts: Facts, mode: CgroupMode, mode_evidence: Evidence | None
) -> Iterator[Issue]:
    """No kubelet yet: judge the kubelet the target will install (``--profile``,
    ``--kubernetes-version``), with its default failCgroupV1."""
    target = facts.get(target_facts)
    if not target.declared:
        raise SkipRuleError(
            "no kubelet is installed; note that kubelet 1.35+ refuses cgroup v1 by default "
            "(give --profile and --kubernetes-version to judge what will be installed)"
        )
    version = target.kubernetes_version
    if version is None:
        raise SkipRuleError(
            "no kubelet is installed and the version to install is unknown "
            f"({target.version_unknown}); give --kubernetes-version"
        )
    fail = default_setting("failCgroupV1", version, target.deployer)
    evidence = [mode_evidence] if mode_evidence else []
    evidence += list(target.evidence)
    if fail is not None:
        evidence.append(fail.evidence)
    vtext = f"kubelet {target.minor_text}"
    who = target.deployer or "the deployer"
    migrate = (
        "move the host to cgroup v2 before installing (systemd.unified_cgroup_hierarchy=1 on the "
        "kernel command line, or an OS release that boots v2), then reboot"
    )
    if fail is not None and fail.value is True:
        yield Issue(
            title=f"{vtext}, which {who} will install, refuses to run on cgroup {mode.value}",
            message=(
                f"nothing is installed yet; the host is on cgroup {mode.value} and {vtext} "
                "defaults to failCgroupV1: true: "
                + (
                    "kubeadm's preflight stops with [ERROR SystemVerification] and "
                    if who in ("kubeadm", "kubespray", "kubekey")
                    else ""
                )
                + 'the kubelet exits with "kubelet is configured to not run on a host using '
                "cgroup v1. cgroup v1 support is unsupported and will be removed in a future "
                'release"'
            ),
            evidence=tuple(evidence),
            severity=Severity.ERROR,
            fix=FixHint(
                summary=f"{migrate}; or install a release before 1.35, or set failCgroupV1: "
                "false in the kubelet configuration the deployer writes",
                reboot=True,
            ),
            impact="the install stops or the kubelet does not start; the node never becomes Ready",
        )
    elif version >= (1, 31):
        yield Issue(
            title=f"cgroup {mode.value} is deprecated for {vtext}, which {who} will install",
            message=(
                f"nothing is installed yet; the host is on cgroup {mode.value}. {vtext} runs on "
                "it, but cgroup v1 is in maintenance mode from 1.31 (kubeadm's preflight warns) "
                "and kubelet 1.35+ refuses it unless failCgroupV1: false"
            ),
            evidence=tuple(evidence),
            severity=Severity.WARNING,
            fix=FixHint(summary=migrate, reboot=True),
            impact="the next kubelet upgrade may refuse to start; v2-only features are unavailable",
        )


RULE = Rule(
    id="cgroup-v1-unsupported",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="the host runs cgroup v1 (or hybrid), which the kubelet deprecates and then refuses",
    check=_check_v1_unsupported,
    tags=("cgroup", "cgroup-v1", "kubelet"),
    applies_to="error from kubelet 1.35 (unless failCgroupV1: false), warning 1.31-1.34, "
    "info before",
)
