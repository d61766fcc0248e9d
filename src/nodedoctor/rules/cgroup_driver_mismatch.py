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


def _runtime_side_fix(facts: Facts, r: RuntimeFacts, target: str) -> FixHint:
    restart = ("containerd", "kubelet")
    if r.name == "containerd":
        c = facts.get(containerd_facts)
        h = c.default_handler
        if c.layout == "k3s":
            return FixHint(
                summary=(
                    "k3s writes the same driver to its kubelet and its containerd; remove the "
                    "override that makes them differ (a cgroup-driver kubelet-arg in "
                    "/etc/rancher/k3s/config.yaml or SystemdCgroup in the containerd "
                    "template) rather than flipping one side; " + DRAIN
                ),
                files=(h.file,) if h is not None and h.file != K3S_RENDERED else (),
                restart=("k3s",),
            )
        if h is None:
            return FixHint(
                summary=(
                    f"set SystemdCgroup = {str(target == 'systemd').lower()} in the options "
                    f"table of containerd's default runtime {c.default_runtime!r} (or make a "
                    f"runc handler the default), then restart containerd and the kubelet; {DRAIN}"
                ),
                files=(c.config_path,) if c.config_path else (),
                restart=restart,
            )
        value = "true" if target == "systemd" else "false"
        table = ".".join(_toml_key(p) for p in h.table)
        how = (
            "change the value of the existing key"
            if h.present
            else "the key is absent: insert it into that table"
        )
        where = f"{h.file} ([{table}], config version {h.file_version})"
        restart_cmd = (
            ("snap restart microk8s",)
            if c.layout == "microk8s"
            else ("systemctl restart containerd", "systemctl restart kubelet")
        )
        return FixHint(
            summary=(
                f"set `SystemdCgroup = {value}` in {where} ({how}), then restart "
                f"containerd and the kubelet; {DRAIN}"
            ),
            available=True,
            files=(h.file,),
            restart=("microk8s",) if c.layout == "microk8s" else restart,
            commands=restart_cmd,
        )
    if r.name == "cri-o":
        return FixHint(
            summary=(
                f'set cgroup_manager = "{target}" in a drop-in under /etc/crio/crio.conf.d/ '
                + ('with conmon_cgroup = "pod" ' if target == "cgroupfs" else "")
                + f"and restart crio and the kubelet; {DRAIN}"
            ),
            files=("/etc/crio/crio.conf.d/",),
            restart=("crio", "kubelet"),
        )
    return FixHint(
        summary=(
            f'set "exec-opts": ["native.cgroupdriver={target}"] in /etc/docker/daemon.json and '
            f"restart docker, cri-docker and the kubelet; {DRAIN}"
        ),
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
        where = f"the flag {setting.flag_text or '--cgroup-driver'} in {setting.evidence.source}"
        files: tuple[str, ...] = (setting.evidence.source,)
    elif setting.origin in ("config", "config-dir"):
        where = f"cgroupDriver in {setting.evidence.source}"
        files = (setting.evidence.source,)
    else:
        path = k.config_path.value if k.config_path else "/var/lib/kubelet/config.yaml"
        where = f"cgroupDriver (unset) in {path}"
        files = (path,)
    also = (
        f" and make the same choice in {deployer}'s own settings so its next run keeps it"
        if deployer
        else ""
    )
    return FixHint(
        summary=f"set {where} to {target}{also}, then restart the kubelet; {DRAIN}",
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
            "no kubelet is installed and no deployer is named: the driver it will use is the "
            "deployer's choice (--profile names it)"
        )
    who = deployer_title(t)
    if prep.own_runtime:
        raise SkipRuleError(
            f"{who} installs and configures its own container runtime with its kubelet"
        )
    r = configured_runtime(facts)
    if r.cgroup_driver is None:
        raise SkipRuleError(r.unknown or f"the cgroup driver of {r.name} cannot be told")
    kd, rd = prep.kubelet_driver, r.cgroup_driver.value
    if kd == rd:
        return
    if kd == "systemd" and facts.get(init_system).systemd is False:
        raise SkipRuleError(
            f"{who} will ask for the systemd driver on a node whose PID 1 is not systemd: "
            "cgroup-driver-not-systemd reports it"
        )
    version = t.kubernetes_version
    if version is not None and version >= (1, 31) and r.implements_runtime_config:
        return  # the kubelet will take the runtime's driver over RuntimeConfig
    if version is None and r.implements_runtime_config is not False:
        raise SkipRuleError(
            f"{who} will give the kubelet {kd} and {r.name} uses {rd}, but whether the "
            f"kubelet takes {r.name}'s driver (RuntimeConfig, 1.31+) depends on the version "
            "(--kubernetes-version gives it)"
        )
    kubelet_ev = Evidence(f"{t.deployer}'s default", prep.kubelet_driver_source)
    evidence = [kubelet_ev, r.cgroup_driver.evidence]
    if t.version_evidence is not None:
        evidence.append(t.version_evidence)
    if r.implements_runtime_config is False:
        named = f"{r.name} {r.version.value}" if r.version else r.name
        why_not_cri = f"{named} does not implement RuntimeConfig"
    else:
        why_not_cri = f"{version_text(version)} does not take the runtime's driver by default"
    from nodedoctor.remedies.driver import driver_mismatch_remedy  # only for a finding

    yield Issue(
        title=f"{who} will give the kubelet {kd} but {r.name} uses {rd}",
        message=(
            f"{who} will configure the kubelet with the {kd} cgroup driver while {r.name} "
            f"places containers with {rd} ({why_not_cri}, so the kubelet keeps its own)"
        ),
        evidence=tuple(evidence),
        fix=_before_join(_runtime_side_fix(facts, r, kd)),
        impact=(
            "once the node joins, pods' sandboxes are killed and re-created in a loop "
            "(`SandboxChanged`, `Pod sandbox changed, it will be killed and re-created.`)"
            if kd == "systemd"
            else 'runc refuses every container: `expected cgroupsPath to be of format "slice:'
            'prefix:name" for systemd cgroups`'
        ),
        remedy=driver_mismatch_remedy(facts, kubelet_driver=kd),
    )


def _before_join(fix: FixHint) -> FixHint:
    """A runtime-side fix said for a node with no kubelet yet: nothing to drain or restart
    but the runtime."""
    summary = fix.summary.replace(
        f", then restart containerd and the kubelet; {DRAIN}", ", then restart containerd"
    ).replace(f" and the kubelet; {DRAIN}", "")
    return replace(
        fix,
        summary=summary,
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
        raise SkipRuleError(r.unknown or f"the cgroup driver of {r.name} cannot be told")
    setting = k.cgroup_driver
    if setting is None or not isinstance(setting.value, str):
        raise SkipRuleError("the kubelet's cgroupDriver cannot be told")
    kd, rd = setting.value, r.cgroup_driver.value
    if kd == rd:
        return
    version = k.version.value if k.version else None
    uses = uses_runtime_driver(k, r)
    evidence = [setting.evidence, r.cgroup_driver.evidence]
    if k.driver_from_cri is not None:
        evidence.append(k.driver_from_cri.evidence)
    if uses is None:
        raise SkipRuleError(
            f"the kubelet says {kd} and {r.name} {rd}, but whether the kubelet takes the "
            f"runtime's driver (RuntimeConfig) cannot be told: the "
            + ("kubelet" if k.version is None else f"{r.name}")
            + " version is unknown"
        )
    if uses:
        if setting.is_default:
            return  # nothing written that could mislead
        from nodedoctor.remedies.driver import driver_mismatch_remedy  # only for a finding

        yield Issue(
            title=f"the kubelet's cgroupDriver {kd} is ignored; it uses {r.name}'s {rd}",
            message=(
                f"{version_text(version)} has KubeletCgroupDriverFromCRI on and {r.name} answers "
                f'RuntimeConfig, so the kubelet logs "Using cgroup driver setting received from '
                f'the CRI runtime" cgroupDriver="{rd}" and ignores cgroupDriver: {kd}. Nothing '
                "breaks, but the setting misleads whoever reads it"
            ),
            evidence=tuple(evidence),
            severity=Severity.INFO,
            fix=FixHint(
                summary=(
                    f"set cgroupDriver to {rd} (or remove it) so the configuration says what "
                    "the kubelet does"
                ),
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
        named = f"{r.name} {r.version.value}" if r.version else r.name
        why_not_cri = f"{named} does not implement RuntimeConfig"
    elif k.driver_from_cri is None:
        why_not_cri = f"{version_text(version)} predates KubeletCgroupDriverFromCRI (1.28)"
    else:
        why_not_cri = f"KubeletCgroupDriverFromCRI is off in {version_text(version)}"
    symptom = (
        "pods' sandboxes are killed and re-created in a loop (`SandboxChanged`, "
        "`Pod sandbox changed, it will be killed and re-created.`), kube-system pods restart "
        "endlessly"
        if kd == "systemd"
        else 'runc refuses every container: `expected cgroupsPath to be of format "slice:'
        'prefix:name" for systemd cgroups`'
    )
    from nodedoctor.remedies.driver import driver_mismatch_remedy  # only for a finding

    yield Issue(
        title=f"the kubelet uses {kd} but {r.name} uses {rd}",
        message=(
            f"the kubelet will use the {kd} cgroup driver ({why_not_cri}, so it keeps its own "
            f"setting) while {r.name} places containers with {rd}"
        ),
        evidence=tuple(evidence),
        fix=fix,
        impact=symptom,
        remedy=driver_mismatch_remedy(facts),
    )


RULE = Rule(
    id="cgroup-driver-mismatch",
    severity=Severity.ERROR,
    highest=Severity.ERROR,
    title="the kubelet and the container runtime use different cgroup drivers",
    check=_check_driver_mismatch,
    tags=("cgroup", "kubelet", "containerd", "cri-o", "runtime"),
    applies_to=(
        "every kubelet; info only when the kubelet takes the runtime's driver "
        "(KubeletCgroupDriverFromCRI, 1.31+, with containerd >= 2.0, CRI-O >= 1.28 or "
        "cri-dockerd >= 0.3.17)"
    ),
)
