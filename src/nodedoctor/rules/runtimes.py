"""Rules about the container runtime the kubelet uses: cgroup drivers, a containerd without
CRI, containerd tables that are never read, CRI-O's monitor cgroup and runtimes too old for
the kubelet (research runtimes.md §1-3, §5; kubelet-cgroups.md "KubeletCgroupDriverFromCRI")."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.containerd import K3S_RENDERED, ContainerdFacts, containerd_facts
from nodedoctor.facts.crio import crio_facts
from nodedoctor.facts.kubelet import KubeletFacts, Setting, kubelet_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.runtime import RuntimeFacts, runtime_facts
from nodedoctor.facts.system import init_system
from nodedoctor.facts.versions import Version
from nodedoctor.model import FixHint, Issue, Severity
from nodedoctor.rules.base import Rule, SkipRuleError

#: Deployers that manage containerd's configuration themselves: the fix changes the kubelet
#: side for them (issue 3), and says to keep the deployer's own settings in step.
DEPLOYERS_OWNING_RUNTIME_CONFIG = ("kubespray", "kops", "kubekey")

DRAIN = (
    "if the node has joined a cluster, drain it first (kubectl drain <node> "
    "--ignore-daemonsets): sandboxes created with the old driver cannot be re-created"
)


def _kubelet(facts: Facts) -> KubeletFacts:
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError("no kubelet is installed on this node")
    if not k.configured:
        why = "; ".join((*k.problems, *k.pending)) or "no kubelet flags or configuration file"
        raise SkipRuleError(f"the kubelet's configuration cannot be read: {why}")
    return k


def _runtime(facts: Facts) -> RuntimeFacts:
    r = facts.get(runtime_facts)
    if r.name is None:
        raise SkipRuleError(r.unknown or "no container runtime was found")
    return r


def _kv(version: Version | None) -> str:
    return f"kubelet {version.release[0]}.{version.release[1]}" if version else "the kubelet"


def _uses_runtime_driver(k: KubeletFacts, r: RuntimeFacts) -> bool | None:
    """Whether the kubelet takes the runtime's driver via RuntimeConfig (None: unknown)."""
    gate = k.driver_from_cri
    version = k.version.value if k.version else None
    if gate is None:
        if version is not None:  # below 1.28: no such gate
            return False
        return False if r.implements_runtime_config is False else None
    if gate.value is not True:
        return False
    return r.implements_runtime_config


# --------------------------------------------------------------------------------------
# cgroup-driver-mismatch


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


def _check_driver_mismatch(facts: Facts) -> Iterator[Issue]:
    k = _kubelet(facts)
    r = _runtime(facts)
    if r.cgroup_driver is None:
        raise SkipRuleError(r.unknown or f"the cgroup driver of {r.name} cannot be told")
    setting = k.cgroup_driver
    if setting is None or not isinstance(setting.value, str):
        raise SkipRuleError("the kubelet's cgroupDriver cannot be told")
    kd, rd = setting.value, r.cgroup_driver.value
    if kd == rd:
        return
    version = k.version.value if k.version else None
    uses = _uses_runtime_driver(k, r)
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
        yield Issue(
            title=f"the kubelet's cgroupDriver {kd} is ignored; it uses {r.name}'s {rd}",
            message=(
                f"{_kv(version)} has KubeletCgroupDriverFromCRI on and {r.name} answers "
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
        why_not_cri = f"{_kv(version)} predates KubeletCgroupDriverFromCRI (1.28)"
    else:
        why_not_cri = f"KubeletCgroupDriverFromCRI is off in {_kv(version)}"
    symptom = (
        "pods' sandboxes are killed and re-created in a loop (`SandboxChanged`, "
        "`Pod sandbox changed, it will be killed and re-created.`), kube-system pods restart "
        "endlessly"
        if kd == "systemd"
        else 'runc refuses every container: `expected cgroupsPath to be of format "slice:'
        'prefix:name" for systemd cgroups`'
    )
    yield Issue(
        title=f"the kubelet uses {kd} but {r.name} uses {rd}",
        message=(
            f"the kubelet will use the {kd} cgroup driver ({why_not_cri}, so it keeps its own "
            f"setting) while {r.name} places containers with {rd}"
        ),
        evidence=tuple(evidence),
        fix=fix,
        impact=symptom,
    )


CGROUP_DRIVER_MISMATCH = Rule(
    id="cgroup-driver-mismatch",
    severity=Severity.ERROR,
    title="the kubelet and the container runtime use different cgroup drivers",
    check=_check_driver_mismatch,
    tags=("cgroup", "kubelet", "containerd", "cri-o", "runtime"),
    applies_to=(
        "every kubelet; info only when the kubelet takes the runtime's driver "
        "(KubeletCgroupDriverFromCRI, 1.31+, with containerd >= 2.0, CRI-O >= 1.28 or "
        "cri-dockerd >= 0.4)"
    ),
    family="CgroupDriverMismatch",
)


# --------------------------------------------------------------------------------------
# cgroup-driver-not-systemd


def _effective_driver(facts: Facts) -> tuple[Sourced[str], str] | None:
    """The driver pods will get, and who decides it."""
    r = facts.get(runtime_facts)
    k = facts.get(kubelet_facts)
    if r.name is not None and r.cgroup_driver is not None:
        if k.installed and k.readable and k.cgroup_driver is not None:
            uses = _uses_runtime_driver(k, r)
            if uses is False and isinstance(k.cgroup_driver.value, str):
                return Sourced(k.cgroup_driver.value, k.cgroup_driver.evidence), "the kubelet"
        return r.cgroup_driver, r.name
    kd = k.cgroup_driver if k.installed and k.readable else None
    if kd is not None and isinstance(kd.value, str):
        return Sourced(kd.value, kd.evidence), "the kubelet"
    return None


def _check_not_systemd(facts: Facts) -> Iterator[Issue]:
    init = facts.get(init_system)
    r = facts.get(runtime_facts)
    k = facts.get(kubelet_facts)
    if not k.installed and r.name is None:
        raise SkipRuleError("neither a kubelet nor a container runtime is installed")
    drivers: list[tuple[str, Sourced[str]]] = []
    if r.name is not None and r.cgroup_driver is not None:
        drivers.append((r.name, r.cgroup_driver))
    kd = k.cgroup_driver if k.installed and k.readable else None
    if kd is not None and isinstance(kd.value, str) and kd.origin != "default":
        drivers.append(("the kubelet", Sourced(kd.value, kd.evidence)))
    if init.systemd is False:
        wants = [(who, d) for who, d in drivers if d.value == "systemd"]
        if wants and init.evidence is not None:
            who = " and ".join(w for w, _ in wants)
            yield Issue(
                title=f"{who} asks for the systemd cgroup driver but PID 1 is not systemd",
                message=(
                    f"{who} is set to the systemd cgroup driver, which creates cgroups through "
                    "systemd over D-Bus; PID 1 on this node is not systemd, so every container "
                    "fails to start"
                ),
                evidence=(init.evidence, *(d.evidence for _, d in wants)),
                severity=Severity.ERROR,
                fix=FixHint(
                    summary="use the cgroupfs driver on both the kubelet and the runtime "
                    "(or boot the node with systemd)",
                    restart=("containerd", "kubelet"),
                ),
            )
        return
    if init.systemd is None:
        raise SkipRuleError("whether PID 1 is systemd cannot be told from this root")
    mode = facts.get(cgroup_facts).mode
    if mode is None:
        raise SkipRuleError("the cgroup mode of this node cannot be told")
    if mode is not CgroupMode.V2:
        return
    eff = _effective_driver(facts)
    if eff is None:
        raise SkipRuleError("no cgroup driver can be told (no kubelet or runtime configuration)")
    driver, who = eff
    if driver.value != "cgroupfs":
        return
    profile = facts.get(deployer_profile).name
    deliberate = profile in ("microk8s", "k3s")
    yield Issue(
        title=f"pods use the cgroupfs driver on a cgroup v2 host run by systemd ({who} decides)",
        message=(
            "Kubernetes recommends the systemd cgroup driver on cgroup v2 hosts: with cgroupfs, "
            "two managers (systemd and the kubelet/runtime) share one cgroup tree and may "
            "disagree under resource pressure"
            + (f"; cgroupfs is {profile}'s own default here" if deliberate else "")
        ),
        evidence=(
            driver.evidence,
            *(d.evidence for _, d in drivers if d.value == "cgroupfs" and d != driver),
            *((init.evidence,) if init.evidence else ()),
        ),
        severity=Severity.INFO if deliberate else Severity.WARNING,
        fix=FixHint(
            summary=(
                "switch both the runtime and the kubelet to the systemd driver together "
                f"(see cgroup-driver-mismatch for the keys); {DRAIN}"
            ),
            restart=("containerd", "kubelet"),
        ),
    )


CGROUP_DRIVER_NOT_SYSTEMD = Rule(
    id="cgroup-driver-not-systemd",
    severity=Severity.WARNING,
    title="the cgroup driver does not suit the init system",
    check=_check_not_systemd,
    tags=("cgroup", "cgroup-v2", "systemd", "runtime"),
    applies_to="all versions; the warning on cgroup v2 hosts whose PID 1 is systemd",
    family="CgroupDriverMismatch",
)


# --------------------------------------------------------------------------------------
# containerd-cri-disabled


def _containerd(facts: Facts) -> ContainerdFacts:
    c = facts.get(containerd_facts)
    if not c.present:
        raise SkipRuleError("containerd is not installed")
    return c


def _check_cri_disabled(facts: Facts) -> Iterator[Issue]:
    c = _containerd(facts)
    k = facts.get(kubelet_facts)
    if not k.installed:
        raise SkipRuleError("no kubelet is installed: containerd without CRI is fine for Docker")
    r = facts.get(runtime_facts)
    if r.name not in ("containerd", None):
        raise SkipRuleError(f"the kubelet uses {r.name}, not containerd")
    if c.cri is None:
        if c.unknown and c.cri is None and not c.files:
            raise SkipRuleError(c.unknown)
        return
    endpoint = r.endpoint.value if r.endpoint else c.endpoint
    yield Issue(
        title="containerd runs without its CRI plugin",
        message=f"{c.cri.reason}; the kubelet at {endpoint} gets `unknown service "
        "runtime.v1.RuntimeService`",
        evidence=c.cri.evidence,
        fix=FixHint(
            summary=c.cri.fix,
            available=False,
            files=(c.cri.file,),
            restart=("containerd", "kubelet"),
            commands=("systemctl restart containerd",),
        ),
        impact=(
            "kubeadm preflight fails (`[ERROR CRI]: container runtime is not running`) and the "
            "kubelet exits: `validate service connection: validate CRI v1 runtime API for "
            "endpoint`"
        ),
    )


CONTAINERD_CRI_DISABLED = Rule(
    id="containerd-cri-disabled",
    severity=Severity.ERROR,
    title="containerd's CRI plugin is disabled or fails to load",
    check=_check_cri_disabled,
    tags=("containerd", "cri", "runtime"),
    applies_to="containerd 1.x and 2.x on nodes with a kubelet",
    family="ContainerRuntimeMisconfigured",
)


# --------------------------------------------------------------------------------------
# containerd-config-ignored


def _check_config_ignored(facts: Facts) -> Iterator[Issue]:
    c = _containerd(facts)
    if not c.files and c.unknown:
        raise SkipRuleError(c.unknown)
    for p in c.problems:
        yield Issue(
            title=p.title,
            message=p.message,
            evidence=p.evidence,
            severity=p.severity,
            fix=FixHint(summary=p.fix, files=p.files, restart=("containerd",)),
        )


CONTAINERD_CONFIG_IGNORED = Rule(
    id="containerd-config-ignored",
    severity=Severity.ERROR,
    title="containerd will not read (or refuses) part of its configuration",
    check=_check_config_ignored,
    tags=("containerd", "runtime", "config"),
    applies_to="containerd 1.x and 2.x; MicroK8s and k3s templates",
    family="ContainerRuntimeMisconfigured",
)


# --------------------------------------------------------------------------------------
# runtime-version-unsupported

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


def _check_version_unsupported(facts: Facts) -> Iterator[Issue]:
    k = _kubelet(facts)
    if k.version is None:
        raise SkipRuleError("the kubelet's version is unknown")
    r = _runtime(facts)
    kv = k.version.value
    if r.version is None:
        raise SkipRuleError(f"the version of {r.name} is unknown")
    reasons: list[str] = []
    severity = Severity.WARNING
    if kv >= (1, 36) and r.implements_runtime_config is False:
        reasons.append(
            f"{r.name} {r.version.value} does not implement the CRI RuntimeConfig call; "
            "kubeadm 1.35 warns that falling back to the kubelet's cgroupDriver will be removed "
            "(announced for 1.36, moved to 1.37; the KEP's metric names 1.38)"
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
        "cri-dockerd": "cri-dockerd 0.4 or newer",
    }.get(r.name or "", "a newer runtime")
    yield Issue(
        title=f"{r.name} {r.version.value} is too old for {_kv(kv)}",
        message="; ".join(reasons),
        evidence=(k.version.evidence, r.version.evidence),
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
    )


RUNTIME_VERSION_UNSUPPORTED = Rule(
    id="runtime-version-unsupported",
    severity=Severity.WARNING,
    title="the container runtime is too old for this kubelet",
    check=_check_version_unsupported,
    tags=("runtime", "containerd", "cri-o", "version"),
    applies_to="kubelet 1.35+ (containerd compatibility matrix); 1.36+ without RuntimeConfig",
    family="ContainerRuntimeMisconfigured",
)


# --------------------------------------------------------------------------------------
# crio-conmon-cgroup-invalid


def _check_conmon(facts: Facts) -> Iterator[Issue]:
    cr = facts.get(crio_facts)
    if not cr.present:
        raise SkipRuleError("CRI-O is not installed")
    if cr.unknown:
        raise SkipRuleError(cr.unknown)
    manager = cr.cgroup_manager
    for p in cr.problems:
        key = "conmon_cgroup" if p.handler is None else f"monitor_cgroup of runtime {p.handler}"
        good = '"pod"' + (' or a ".slice"' if manager and manager.value == "systemd" else "")
        yield Issue(
            title=f"CRI-O refuses {key} = {p.value!r} with cgroup_manager "
            f"{manager.value if manager else '?'}",
            message=f"CRI-O fails to start: `{p.message}`",
            evidence=(p.evidence, *((manager.evidence,) if manager else ())),
            fix=FixHint(
                summary=f"set {key.split(maxsplit=1)[0]} = {good} in {p.file} (the file that "
                "wins), then restart crio",
                files=(p.file,),
                restart=("crio",),
            ),
            impact="crio does not start; the kubelet cannot reach the runtime and the node "
            "stays NotReady",
        )


CRIO_CONMON_CGROUP_INVALID = Rule(
    id="crio-conmon-cgroup-invalid",
    severity=Severity.ERROR,
    title="CRI-O's conmon_cgroup does not fit its cgroup_manager",
    check=_check_conmon,
    tags=("cri-o", "cgroup", "runtime"),
    applies_to="CRI-O; system.slice with cgroupfs only before 1.33",
    family="ContainerRuntimeMisconfigured",
)


RULES = (
    CGROUP_DRIVER_MISMATCH,
    CGROUP_DRIVER_NOT_SYSTEMD,
    CONTAINERD_CRI_DISABLED,
    CONTAINERD_CONFIG_IGNORED,
    RUNTIME_VERSION_UNSUPPORTED,
    CRIO_CONMON_CGROUP_INVALID,
)
