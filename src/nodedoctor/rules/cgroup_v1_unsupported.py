"""cgroup-v1-unsupported: the host runs cgroup v1 (or hybrid), which the kubelet deprecates and
then refuses (research kubelet-cgroups.md §0, §2: failCgroupV1)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.kubelet.defaults import default_setting
from nodedoctor.facts.target import KUBEADM_LIKE, target_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import kubelet_restart, version_text
from nodedoctor.rules._target_common import deployer_title, judged_kubelet_version
from nodedoctor.rules.base import Rule, SkipRuleError

MIGRATE = N_(
    "move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command "
    "line, or an OS release that boots v2), then reboot"
)
#: kubeadm 1.35's preflight (k8s.io/system-validators v1.12.1 CgroupsValidator) for a kubelet
#: 1.35 or newer; a warning with the same text for older kubelets.
KUBEADM_135 = (
    "[ERROR SystemVerification]: cgroups v1 support is deprecated and will be removed in a "
    "future release. Please migrate to cgroups v2. To explicitly enable cgroups v1 support for "
    "kubelet v1.35 or newer, you must set the kubelet configuration option 'FailCgroupV1' to "
    "'false'. You must also explicitly skip this validation. For more information, see "
    "https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1"
)
#: kubeadm 1.31-1.34 (system-validators v1.9-v1.11).
KUBEADM_131 = (
    "[WARNING SystemVerification]: cgroups v1 support is in maintenance mode, please migrate "
    "to cgroups v2"
)


def _check_v1_unsupported(facts: Facts) -> Iterator[Issue]:
    cg = facts.get(cgroup_facts)
    if cg.mode is None:
        raise SkipRuleError(_("the cgroup mode of this root is unknown (no mount table)"))
    if cg.mode is CgroupMode.V2:
        return
    k = facts.get(kubelet_facts)
    mode = (
        _("hybrid (v1 controllers with a v2 tree beside them)")
        if cg.mode is CgroupMode.HYBRID
        else "v1"
    )
    if not k.installed:
        yield from _before_install(facts, cg.mode, mode, cg.mode_evidence)
        return
    fail = k.setting("failCgroupV1")
    explicit = fail is not None and not fail.is_default
    if not k.readable and not explicit:
        raise SkipRuleError(
            _("the kubelet's configuration cannot be read: {problems}").format(
                problems="; ".join(k.problems)
            )
        )
    judged = judged_kubelet_version(k, facts.get(target_facts))
    version = judged.value if judged else None
    evidence = [cg.mode_evidence] if cg.mode_evidence else []
    if judged is not None:
        evidence.append(judged.evidence)
    if fail is not None:
        evidence.append(fail.evidence)
    vtext = version_text(version)
    refuses = fail is not None and fail.value is True and (version is None or version >= (1, 31))
    if fail is None and version is not None and version >= (1, 35):
        refuses = True  # unset, and the version (given by hand) defaults it to true
    files = (k.config_path.value,) if k.config_path else ()
    restart, _commands = kubelet_restart(k)
    migrate = _(MIGRATE)
    if version is None and not explicit:
        # Wrong for every kubelet that matters: an unknown version must not hide it.
        yield Issue(
            title=_("cgroup {mode}: deprecated from kubelet 1.31, refused from 1.35").format(
                mode=cg.mode.value
            ),
            message=_(
                "the host is on cgroup {mode}, which the kubelet counts as v1, and the "
                "kubelet's version is unknown (no package or kubeadm configuration names it). "
                "cgroup v1 is in maintenance mode from kubelet 1.31, and from 1.35 the kubelet "
                "refuses to start on it unless failCgroupV1: false (KEP-5573): "
                '"kubelet is configured to not run on a host using cgroup v1"'
            ).format(mode=mode),
            evidence=tuple(evidence),
            severity=Severity.WARNING,
            fix=FixHint(summary=migrate, reboot=True),
            impact=_(
                "kubelet 1.35 and later do not start on this host; 1.31-1.34 run with a "
                "CgroupV1 warning event; v2-only features are unavailable"
            ),
        )
        return
    if refuses:
        message = (
            _(
                "the host is on cgroup {mode}, which the kubelet counts as v1, and failCgroupV1 "
                'is true: the kubelet exits with "kubelet is configured to not run on a host '
                "using cgroup v1. cgroup v1 support is unsupported and will be removed in a "
                'future release"'
            )
            if version is None or version >= (1, 35)
            else _(
                "the host is on cgroup {mode}, which the kubelet counts as v1, and failCgroupV1 "
                'is true: the kubelet exits with "kubelet is configured to not run on a host '
                'using cgroup v1. cgroup v1 support is in maintenance mode"'
            )
        )
        yield Issue(
            title=_("{kubelet} refuses to run on cgroup {mode}").format(
                kubelet=vtext, mode=cg.mode.value
            ),
            message=message.format(mode=mode),
            evidence=tuple(evidence),
            severity=Severity.ERROR,
            fix=FixHint(
                summary=_(
                    "{migrate}; or, as a stopgap, set failCgroupV1: false in the kubelet "
                    "configuration (kubeadm also needs its SystemVerification check skipped)"
                ).format(migrate=migrate),
                files=files,
                reboot=True,
                restart=restart,
            ),
            impact=_("the kubelet does not start; the node stays NotReady"),
        )
        return
    if version is not None and version < (1, 31):
        yield Issue(
            title=_("cgroup {mode}: fine for {kubelet}, refused from kubelet 1.35").format(
                mode=cg.mode.value, kubelet=vtext
            ),
            message=_(
                "the host is on cgroup {mode}. {kubelet} runs on it, but cgroup v1 is in "
                "maintenance mode from 1.31 and kubelet 1.35+ refuses it unless failCgroupV1: "
                "false; plan the move to cgroup v2 before upgrading"
            ).format(mode=mode, kubelet=vtext),
            evidence=tuple(evidence),
            severity=Severity.INFO,
            fix=FixHint(summary=migrate, reboot=True),
        )
        return
    yield Issue(
        title=_("cgroup {mode} is deprecated for {kubelet}").format(
            mode=cg.mode.value, kubelet=vtext
        ),
        message=(
            _(
                "the host is on cgroup {mode}. {kubelet} still runs because failCgroupV1 is "
                "false, but cgroup v1 support is in maintenance mode (1.31-1.34) and unsupported "
                "from 1.35 (KEP-5573); the kubelet reports a CgroupV1 warning event and new "
                "features need v2"
            )
            if explicit
            else _(
                "the host is on cgroup {mode}. {kubelet} still runs, but cgroup v1 support is in "
                "maintenance mode (1.31-1.34) and unsupported from 1.35 (KEP-5573); the kubelet "
                "reports a CgroupV1 warning event and new features need v2"
            )
        ).format(mode=mode, kubelet=vtext),
        evidence=tuple(evidence),
        severity=Severity.WARNING,
        fix=FixHint(summary=migrate, reboot=True),
        impact=_("the next kubelet upgrade may refuse to start; v2-only features are unavailable"),
    )


def _before_install(
    facts: Facts, cg_mode: CgroupMode, mode: str, mode_evidence: Evidence | None
) -> Iterator[Issue]:
    """No kubelet yet: the one the target installs (facts/target.py) is judged by its
    version's default, failCgroupV1 true from 1.35 (no deployer here sets it false)."""
    t = facts.get(target_facts)
    if t.deployer is None and t.kubernetes_version is None:
        raise SkipRuleError(
            _(
                "no kubelet is installed and neither --profile nor --kubernetes-version names "
                "what will be; kubelet 1.35+ refuses cgroup v1 by default"
            )
        )
    who = deployer_title(t)
    evidence = tuple(
        e for e in (mode_evidence, t.version_evidence, t.deployer_evidence) if e is not None
    )
    kubeadm = t.deployer in KUBEADM_LIKE
    version = t.kubernetes_version
    if version is None:
        yield Issue(
            title=_("cgroup {mode}: deprecated from kubelet 1.31, refused from 1.35").format(
                mode=cg_mode.value
            ),
            message=_(
                "the host is on cgroup {mode}, which the kubelet counts as v1; the version "
                "{who} will install is unknown ({why}). cgroup v1 is in "
                "maintenance mode from kubelet 1.31, and from 1.35 the kubelet refuses to start "
                'on it unless failCgroupV1: false: "kubelet is configured to not run on a host '
                'using cgroup v1"'
            ).format(mode=mode, who=who, why=t.version_unknown),
            evidence=evidence,
            severity=Severity.WARNING,
            fix=FixHint(summary=_(MIGRATE), reboot=True),
            impact=_("a kubelet 1.35 or later does not start on this host"),
        )
        return
    vtext = version_text(version)
    fail = default_setting("failCgroupV1", version, t.deployer)
    if fail is not None:
        evidence = (*evidence, fail.evidence)
    if version >= (1, 35):
        preflight = (
            _("; kubeadm {version} preflight stops with `{error}`").format(
                version=t.minor_text, error=KUBEADM_135
            )
            if kubeadm
            else ""
        )
        yield Issue(
            title=_("{kubelet}, which {who} will install, refuses cgroup {mode}").format(
                kubelet=vtext, who=who, mode=cg_mode.value
            ),
            message=_(
                "the host is on cgroup {mode}, which the kubelet counts as v1, and {kubelet} "
                'defaults failCgroupV1 to true: it will exit with "kubelet is configured to not '
                "run on a host using cgroup v1. cgroup v1 support is unsupported and will be "
                'removed in a future release"{preflight}'
            ).format(mode=mode, kubelet=vtext, preflight=preflight),
            evidence=evidence,
            severity=Severity.ERROR,
            fix=FixHint(
                summary=_(
                    "{migrate}; or, as a stopgap, install with failCgroupV1: false in the "
                    "kubelet configuration (kubeadm also needs "
                    "--ignore-preflight-errors=SystemVerification), or install a release before "
                    "1.35"
                ).format(migrate=_(MIGRATE)),
                reboot=True,
            ),
            impact=_("the kubelet does not start; the node never becomes Ready"),
        )
        return
    if version >= (1, 31):
        preflight = _(" (kubeadm warns `{warning}`)").format(warning=KUBEADM_131) if kubeadm else ""
        yield Issue(
            title=_("cgroup {mode} is deprecated for {kubelet}, which {who} will install").format(
                mode=cg_mode.value, kubelet=vtext, who=who
            ),
            message=_(
                "the host is on cgroup {mode}. {kubelet} runs on it{preflight}, but cgroup v1 "
                "support is in maintenance mode from 1.31 and refused by default from 1.35 "
                "(KEP-5573)"
            ).format(mode=mode, kubelet=vtext, preflight=preflight),
            evidence=evidence,
            severity=Severity.WARNING,
            fix=FixHint(summary=_(MIGRATE), reboot=True),
            impact=_(
                "the next kubelet upgrade may refuse to start; v2-only features are unavailable"
            ),
        )
        return
    yield Issue(
        title=_("cgroup {mode}: fine for {kubelet}, refused from kubelet 1.35").format(
            mode=cg_mode.value, kubelet=vtext
        ),
        message=_(
            "the host is on cgroup {mode}. {kubelet}, which {who} will install, runs on it, but "
            "kubelet 1.35+ refuses it unless failCgroupV1: false; plan the move to cgroup v2"
        ).format(mode=mode, kubelet=vtext, who=who),
        evidence=evidence,
        severity=Severity.INFO,
        fix=FixHint(summary=_(MIGRATE), reboot=True),
    )


RULE = Rule(
    id="cgroup-v1-unsupported",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("the host runs cgroup v1 (or hybrid), which the kubelet deprecates and then refuses"),
    check=_check_v1_unsupported,
    tags=("cgroup", "cgroup-v1", "kubelet"),
    applies_to=N_(
        "error from kubelet 1.35 (unless failCgroupV1: false), warning 1.31-1.34, info before"
    ),
)
