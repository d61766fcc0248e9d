"""cgroup-driver-mismatch: the kubelet and the container runtime use different cgroup drivers
(research runtimes.md §1-3; kubelet-cgroups.md "KubeletCgroupDriverFromCRI")."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor._record import replace
from nodedoctor.facts import Facts
from nodedoctor.facts.containerd import K3S_RENDERED, containerd_facts
from nodedoctor.facts.kubelet import KubeletFacts, Setting, kubelet_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.runtime import RuntimeFacts
from nodedoctor.facts.system import init_system
from nodedoctor.facts.target import target_facts as planned_target
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._kubelet_common import configured_kubelet, version_text
from nodedoctor.rules._runtime_common import (
    DRAIN,
    RUNTIME_NOTHING_FOUND,
    configured_runtime,
    uses_runtime_driver,
)
from nodedoctor.rules._target_common import deployer_title
from nodedoctor.rules.base import Rule, SkipRuleError

#: Deployers that manage containerd's configuration themselves: the fix changes the kubelet
#: side for them (issue 3), and says to keep the deployer's own settings in step.
DEPLOYERS_OWNING_RUNTIME_CONFIG = ("kubespray", "kops", "kubekey")

#: What a kubelet with the cgroupfs driver meets when the runtime uses systemd.
RUNC_REFUSES = N_(
    'runc refuses every container: `expected cgroupsPath to be of format "slice:prefix:name" '
    "for systemd cgroups`"
)


def _unknown_driver(r: RuntimeFacts) -> str:
    return _("the cgroup driver of {runtime} cannot be told").format(runtime=r.name)


def _no_runtime_config(r: RuntimeFacts) -> str:
    """Why the kubelet keeps its own driver: the runtime does not implement RuntimeConfig."""
    named = f"{r.name} {r.version.value}" if r.version else r.name
    return _("{runtime} does not implement RuntimeConfig").format(runtime=named)


def _runtime_side_fix(facts: Facts, r: RuntimeFacts, target: str, joined: bool = True) -> FixHint:
    """The fix on the runtime's side (``joined``: the node has a kubelet to restart and maybe
    pods to drain; else only the runtime is restarted, :func:`_before_join`)."""
    restart = ("containerd", "kubelet")
    drain = _(DRAIN)
    if r.name == "containerd":
        c = facts.get(containerd_facts)
        h = c.default_handler
        if c.layout == "k3s":
            return FixHint(
                summary=_(
                    "k3s writes the same driver to its kubelet and its containerd; remove the "
                    "override that makes them differ (a cgroup-driver kubelet-arg in "
                    "/etc/rancher/k3s/config.yaml or SystemdCgroup in the containerd "
                    "template) rather than flipping one side; {drain}"
                ).format(drain=drain),
                files=(h.file,) if h is not None and h.file != K3S_RENDERED else (),
                restart=("k3s",),
            )
        if h is None:
            template = (
                _(
                    "set SystemdCgroup = {value} in the options table of containerd's default "
                    "runtime {runtime!r} (or make a runc handler the default), then restart "
                    "containerd and the kubelet; {drain}"
                )
                if joined
                else _(
                    "set SystemdCgroup = {value} in the options table of containerd's default "
                    "runtime {runtime!r} (or make a runc handler the default), then restart "
                    "containerd"
                )
            )
            return FixHint(
                summary=template.format(
                    value=str(target == "systemd").lower(),
                    runtime=c.default_runtime,
                    drain=drain,
                ),
                files=(c.config_path,) if c.config_path else (),
                restart=restart,
            )
        value = "true" if target == "systemd" else "false"
        table = ".".join(_toml_key(p) for p in h.table)
        how = (
            _("change the value of the existing key")
            if h.present
            else _("the key is absent: insert it into that table")
        )
        restart_cmd = (
            ("snap restart microk8s",)
            if c.layout == "microk8s"
            else ("systemctl restart containerd", "systemctl restart kubelet")
        )
        template = (
            _(
                "set `SystemdCgroup = {value}` in {file} ([{table}], config version {version}) "
                "({how}), then restart containerd and the kubelet; {drain}"
            )
            if joined
            else _(
                "set `SystemdCgroup = {value}` in {file} ([{table}], config version {version}) "
                "({how}), then restart containerd"
            )
        )
        return FixHint(
            summary=template.format(
                value=value,
                file=h.file,
                table=table,
                version=h.file_version,
                how=how,
                drain=drain,
            ),
            available=True,
            files=(h.file,),
            restart=("microk8s",) if c.layout == "microk8s" else restart,
            commands=restart_cmd,
        )
    if r.name == "cri-o":
        if target == "cgroupfs":
            template = (
                _(
                    'set cgroup_manager = "{target}" in a drop-in under /etc/crio/crio.conf.d/ '
                    'with conmon_cgroup = "pod" and restart crio and the kubelet; {drain}'
                )
                if joined
                else _(
                    'set cgroup_manager = "{target}" in a drop-in under /etc/crio/crio.conf.d/ '
                    'with conmon_cgroup = "pod" and restart crio'
                )
            )
        else:
            template = (
                _(
                    'set cgroup_manager = "{target}" in a drop-in under /etc/crio/crio.conf.d/ '
                    "and restart crio and the kubelet; {drain}"
                )
                if joined
                else _(
                    'set cgroup_manager = "{target}" in a drop-in under /etc/crio/crio.conf.d/ '
                    "and restart crio"
                )
            )
        return FixHint(
            summary=template.format(target=target, drain=drain),
            files=("/etc/crio/crio.conf.d/",),
            restart=("crio", "kubelet"),
        )
    template = (
        _(
            'set "exec-opts": ["native.cgroupdriver={target}"] in /etc/docker/daemon.json and '
            "restart docker, cri-docker and the kubelet; {drain}"
        )
        if joined
        else _(
            'set "exec-opts": ["native.cgroupdriver={target}"] in /etc/docker/daemon.json and '
            "restart docker, cri-docker"
        )
    )
    return FixHint(
        summary=template.format(target=target, drain=drain),
        files=("/etc/docker/daemon.json",),
        restart=("docker", "cri-docker", "kubelet"),
    )


def _toml_key(part: str) -> str:
    if part.replace("_", "").replace("-", "").isalnum():
        return part
    return f'"{part}"'


def _kubelet_side_fix(
    k: KubeletFacts, target: str, setting: Setting, deployer: str | None = None
) -> FixHint:
    unit = (k.unit or "kubelet.service").removesuffix(".service")
    if setting.origin == "flag":
        where = _("the flag {flag} in {file}").format(
            flag=setting.flag_text or "--cgroup-driver", file=setting.evidence.source
        )
        files: tuple[str, ...] = (setting.evidence.source,)
    elif setting.origin in ("config", "config-dir"):
        where = _("cgroupDriver in {file}").format(file=setting.evidence.source)
        files = (setting.evidence.source,)
    else:
        path = k.config_path.value if k.config_path else "/var/lib/kubelet/config.yaml"
        where = _("cgroupDriver (unset) in {file}").format(file=path)
        files = (path,)
    if deployer:
        summary = _(
            "set {where} to {target} and make the same choice in {deployer}'s own settings so "
            "its next run keeps it, then restart the kubelet; {drain}"
        ).format(where=where, target=target, deployer=deployer, drain=_(DRAIN))
    else:
        summary = _("set {where} to {target}, then restart the kubelet; {drain}").format(
            where=where, target=target, drain=_(DRAIN)
        )
    return FixHint(
        summary=summary,
        available=setting.origin != "deployer",
        files=files,
        restart=("containerd", "kubelet") if unit == "kubelet" else (unit,),
    )


def _before_install(facts: Facts) -> Iterator[Issue]:
    """No kubelet configuration yet: the driver the deployer will give the kubelet (kubeadm's
    systemd, facts/preparation.py) against the runtime already on the node."""
    t = facts.get(planned_target)
    prep = t.preparation
    if prep is None:
        raise SkipRuleError(
            _(
                "no kubelet is installed and no deployer is named: the driver it will use is "
                "the deployer's choice (--profile names it)"
            )
        )
    who = deployer_title(t)
    if prep.own_runtime:
        raise SkipRuleError(
            _("{who} installs and configures its own container runtime with its kubelet").format(
                who=who
            )
        )
    r = configured_runtime(facts)
    if r.cgroup_driver is None:
        raise SkipRuleError(r.unknown or _unknown_driver(r))
    kd, rd = prep.kubelet_driver, r.cgroup_driver.value
    if kd == rd:
        return
    if kd == "systemd" and facts.get(init_system).systemd is False:
        raise SkipRuleError(
            _(
                "{who} will ask for the systemd driver on a node whose PID 1 is not systemd: "
                "cgroup-driver-not-systemd reports it"
            ).format(who=who)
        )
    version = t.kubernetes_version
    if version is not None and version >= (1, 31) and r.implements_runtime_config:
        return  # the kubelet will take the runtime's driver over RuntimeConfig
    if version is None and r.implements_runtime_config is not False:
        raise SkipRuleError(
            _(
                "{who} will give the kubelet {kubelet_driver} and {runtime} uses "
                "{runtime_driver}, but whether the kubelet takes {runtime}'s driver "
                "(RuntimeConfig, 1.31+) depends on the version (--kubernetes-version gives it)"
            ).format(who=who, kubelet_driver=kd, runtime=r.name, runtime_driver=rd)
        )
    kubelet_ev = Evidence(f"{t.deployer}'s default", prep.kubelet_driver_source)
    evidence = [kubelet_ev, r.cgroup_driver.evidence]
    if t.version_evidence is not None:
        evidence.append(t.version_evidence)
    if r.implements_runtime_config is False:
        why_not_cri = _no_runtime_config(r)
    else:
        why_not_cri = _("{kubelet} does not take the runtime's driver by default").format(
            kubelet=version_text(version)
        )
    from nodedoctor.remedies.driver import driver_mismatch_remedy  # only for a finding

    yield Issue(
        title=_(
            "{who} will give the kubelet {kubelet_driver} but {runtime} uses {runtime_driver}"
        ).format(who=who, kubelet_driver=kd, runtime=r.name, runtime_driver=rd),
        message=_(
            "{who} will configure the kubelet with the {kubelet_driver} cgroup driver while "
            "{runtime} places containers with {runtime_driver} ({why_not_cri}, so the kubelet "
            "keeps its own)"
        ).format(
            who=who, kubelet_driver=kd, runtime=r.name, runtime_driver=rd, why_not_cri=why_not_cri
        ),
        evidence=tuple(evidence),
        fix=_before_join(_runtime_side_fix(facts, r, kd, joined=False)),
        impact=(
            _(
                "once the node joins, pods' sandboxes are killed and re-created in a loop "
                "(`SandboxChanged`, `Pod sandbox changed, it will be killed and re-created.`)"
            )
            if kd == "systemd"
            else _(RUNC_REFUSES)
        ),
        remedy=driver_mismatch_remedy(facts, kubelet_driver=kd),
    )


def _before_join(fix: FixHint) -> FixHint:
    """A runtime-side fix (its summary said with ``joined=False``) for a node with no kubelet
    yet: nothing to restart but the runtime."""
    return replace(
        fix,
        restart=tuple(r for r in fix.restart if r != "kubelet"),
        commands=tuple(c for c in fix.commands if "kubelet" not in c),
    )


def _check_driver_mismatch(facts: Facts) -> Iterator[Issue]:
    if not facts.get(kubelet_facts).installed or facts.get(planned_target).before_kubeadm_join:
        yield from _before_install(facts)
        return
    k = configured_kubelet(facts, RUNTIME_NOTHING_FOUND)
    r = configured_runtime(facts)
    if r.cgroup_driver is None:
        raise SkipRuleError(r.unknown or _unknown_driver(r))
    setting = k.cgroup_driver
    if setting is None or not isinstance(setting.value, str):
        raise SkipRuleError(_("the kubelet's cgroupDriver cannot be told"))
    kd, rd = setting.value, r.cgroup_driver.value
    if kd == rd:
        return
    version = k.version.value if k.version else None
    uses = uses_runtime_driver(k, r)
    evidence = [setting.evidence, r.cgroup_driver.evidence]
    if k.driver_from_cri is not None:
        evidence.append(k.driver_from_cri.evidence)
    if uses is None:
        template = (
            _(
                "the kubelet says {kubelet_driver} and {runtime} {runtime_driver}, but whether "
                "the kubelet takes the runtime's driver (RuntimeConfig) cannot be told: the "
                "kubelet version is unknown"
            )
            if k.version is None
            else _(
                "the kubelet says {kubelet_driver} and {runtime} {runtime_driver}, but whether "
                "the kubelet takes the runtime's driver (RuntimeConfig) cannot be told: the "
                "{runtime} version is unknown"
            )
        )
        raise SkipRuleError(template.format(kubelet_driver=kd, runtime=r.name, runtime_driver=rd))
    if uses:
        if setting.is_default:
            return  # nothing written that could mislead
        from nodedoctor.remedies.driver import driver_mismatch_remedy  # only for a finding

        yield Issue(
            title=_(
                "the kubelet's cgroupDriver {kubelet_driver} is ignored; it uses {runtime}'s "
                "{runtime_driver}"
            ).format(kubelet_driver=kd, runtime=r.name, runtime_driver=rd),
            message=_(
                "{kubelet} has KubeletCgroupDriverFromCRI on and {runtime} answers "
                'RuntimeConfig, so the kubelet logs "Using cgroup driver setting received from '
                'the CRI runtime" cgroupDriver="{runtime_driver}" and ignores cgroupDriver: '
                "{kubelet_driver}. Nothing breaks, but the setting misleads whoever reads it"
            ).format(
                kubelet=version_text(version),
                runtime=r.name,
                runtime_driver=rd,
                kubelet_driver=kd,
            ),
            evidence=tuple(evidence),
            severity=Severity.INFO,
            fix=FixHint(
                summary=_(
                    "set cgroupDriver to {runtime_driver} (or remove it) so the configuration "
                    "says what the kubelet does"
                ).format(runtime_driver=rd),
            ),
            remedy=driver_mismatch_remedy(facts),
        )
        return
    profile = facts.get(deployer_profile).name
    init = facts.get(init_system)
    target = "systemd" if init.systemd else "cgroupfs"
    if init.systemd is None:
        target = kd  # follow the kubelet's choice when the init system is unknown
    if profile in DEPLOYERS_OWNING_RUNTIME_CONFIG and r.name == "containerd":
        fix = _kubelet_side_fix(k, rd, setting, deployer=profile)
    elif profile == "k3s" or target != rd:
        fix = _runtime_side_fix(facts, r, target)
    else:
        fix = _kubelet_side_fix(k, target, setting)
    if r.implements_runtime_config is False:
        why_not_cri = _no_runtime_config(r)
    elif k.driver_from_cri is None:
        why_not_cri = _("{kubelet} predates KubeletCgroupDriverFromCRI (1.28)").format(
            kubelet=version_text(version)
        )
    else:
        why_not_cri = _("KubeletCgroupDriverFromCRI is off in {kubelet}").format(
            kubelet=version_text(version)
        )
    symptom = (
        _(
            "pods' sandboxes are killed and re-created in a loop (`SandboxChanged`, "
            "`Pod sandbox changed, it will be killed and re-created.`), kube-system pods "
            "restart endlessly"
        )
        if kd == "systemd"
        else _(RUNC_REFUSES)
    )
    from nodedoctor.remedies.driver import driver_mismatch_remedy  # only for a finding

    yield Issue(
        title=_("the kubelet uses {kubelet_driver} but {runtime} uses {runtime_driver}").format(
            kubelet_driver=kd, runtime=r.name, runtime_driver=rd
        ),
        message=_(
            "the kubelet will use the {kubelet_driver} cgroup driver ({why_not_cri}, so it keeps "
            "its own setting) while {runtime} places containers with {runtime_driver}"
        ).format(kubelet_driver=kd, why_not_cri=why_not_cri, runtime=r.name, runtime_driver=rd),
        evidence=tuple(evidence),
        fix=fix,
        impact=symptom,
        remedy=driver_mismatch_remedy(facts),
    )


RULE = Rule(
    id="cgroup-driver-mismatch",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title=N_("the kubelet and the container runtime use different cgroup drivers"),
    check=_check_driver_mismatch,
    tags=("cgroup", "kubelet", "containerd", "cri-o", "runtime"),
    applies_to=N_(
        "every kubelet; info only when the kubelet takes the runtime's driver "
        "(KubeletCgroupDriverFromCRI, 1.31+, with containerd >= 2.0, CRI-O >= 1.28 or "
        "cri-dockerd >= 0.3.17)"
    ),
)
