"""cgroup-driver-not-systemd: the cgroup driver does not suit the init system (research
runtimes.md §1-3)."""

from __future__ import annotations

from collections.abc import Iterator

from nodedoctor.facts import Facts, Sourced
from nodedoctor.facts.cgroups import CgroupMode, cgroup_facts
from nodedoctor.facts.kubelet import kubelet_facts
from nodedoctor.facts.profile import deployer_profile
from nodedoctor.facts.runtime import runtime_facts
from nodedoctor.facts.system import init_system
from nodedoctor.facts.target import target_facts
from nodedoctor.i18n import N_, _
from nodedoctor.model import Evidence, FixHint, Issue, Severity
from nodedoctor.rules._runtime_common import DRAIN, uses_runtime_driver
from nodedoctor.rules._target_common import deployer_title
from nodedoctor.rules.base import Rule, SkipRuleError


def _target_driver(facts: Facts) -> tuple[str, Sourced[str]] | None:
    """(who, driver) that the deployer will give a kubelet not configured yet (kubeadm's
    systemd; k3s follows PID 1, which never disagrees with it), else ``None``."""
    t = facts.get(target_facts)
    if facts.get(kubelet_facts).installed and not t.before_kubeadm_join:
        return None
    prep = t.preparation
    if prep is None or prep.kubelet_driver not in ("systemd", "cgroupfs"):
        return None
    ev = Evidence(f"{t.deployer}'s default", prep.kubelet_driver_source)
    who = _("the kubelet {deployer} will install").format(deployer=deployer_title(t))
    return who, Sourced(prep.kubelet_driver, ev)


def _effective_driver(facts: Facts) -> tuple[Sourced[str], str] | None:
    """The driver pods will get, and who decides it."""
    r = facts.get(runtime_facts)
    k = facts.get(kubelet_facts)
    planned = _target_driver(facts)
    prep = facts.get(target_facts).preparation
    if planned is not None and prep is not None and prep.own_runtime:
        # The deployer brings its runtime and sets both sides: the runtime on the node now
        # is not the one pods will get.
        return planned[1], planned[0]
    if r.name is not None and r.cgroup_driver is not None:
        if k.installed and k.readable and k.cgroup_driver is not None:
            uses = uses_runtime_driver(k, r)
            if uses is False and isinstance(k.cgroup_driver.value, str):
                return Sourced(k.cgroup_driver.value, k.cgroup_driver.evidence), _("the kubelet")
        return r.cgroup_driver, r.name
    kd = k.cgroup_driver if k.installed and k.readable else None
    if planned is not None:
        return planned[1], planned[0]
    if kd is not None and isinstance(kd.value, str):
        return Sourced(kd.value, kd.evidence), _("the kubelet")
    return None


def _both(wants: list[tuple[str, Sourced[str]]]) -> str:
    """Who asks for a driver: one name, or the runtime and the kubelet (at most two, in that
    order)."""
    if len(wants) == 1:
        return wants[0][0]
    return _("{runtime} and {kubelet}").format(runtime=wants[0][0], kubelet=wants[1][0])


def _check_not_systemd(facts: Facts) -> Iterator[Issue]:
    init = facts.get(init_system)
    r = facts.get(runtime_facts)
    k = facts.get(kubelet_facts)
    planned = _target_driver(facts)
    prep = facts.get(target_facts).preparation
    if not k.installed and r.name is None and planned is None:
        raise SkipRuleError(_("neither a kubelet nor a container runtime is installed"))
    drivers: list[tuple[str, Sourced[str]]] = []
    own_runtime = planned is not None and prep is not None and prep.own_runtime
    if r.name is not None and r.cgroup_driver is not None and not own_runtime:
        drivers.append((r.name, r.cgroup_driver))
    kd = k.cgroup_driver if k.installed and k.readable else None
    if planned is not None:
        drivers.append(planned)
    elif kd is not None and isinstance(kd.value, str) and kd.origin != "default":
        drivers.append((_("the kubelet"), Sourced(kd.value, kd.evidence)))
    if init.systemd is False:
        wants = [(who, d) for who, d in drivers if d.value == "systemd"]
        if wants and init.evidence is not None:
            yield Issue(
                title=_("{who} asks for the systemd cgroup driver but PID 1 is not systemd").format(
                    who=_both(wants)
                ),
                message=_(
                    "{who} is set to the systemd cgroup driver, which creates cgroups through "
                    "systemd over D-Bus; PID 1 on this node is not systemd, so every container "
                    "fails to start"
                ).format(who=_both(wants)),
                evidence=(init.evidence, *(d.evidence for _who, d in wants)),
                severity=Severity.ERROR,
                fix=FixHint(
                    summary=_(
                        "use the cgroupfs driver on both the kubelet and the runtime "
                        "(or boot the node with systemd)"
                    ),
                    restart=("containerd", "kubelet"),
                ),
                impact=_(
                    "every container fails to start; runc 1.1 and newer say `OCI runtime "
                    "create failed: runc create failed: systemd not running on this host, "
                    "cannot use systemd cgroups manager`"
                ),
            )
        return
    if init.systemd is None:
        raise SkipRuleError(_("whether PID 1 is systemd cannot be told from this root"))
    mode = facts.get(cgroup_facts).mode
    if mode is None:
        raise SkipRuleError(_("the cgroup mode of this node cannot be told"))
    if mode is not CgroupMode.V2:
        return
    eff = _effective_driver(facts)
    if eff is None:
        raise SkipRuleError(_("no cgroup driver can be told (no kubelet or runtime configuration)"))
    driver, who = eff
    if driver.value != "cgroupfs":
        return
    profile = facts.get(deployer_profile).name
    deliberate = profile in ("microk8s", "k3s")
    yield Issue(
        title=_(
            "pods use the cgroupfs driver on a cgroup v2 host run by systemd ({who} decides)"
        ).format(who=who),
        message=(
            _(
                "Kubernetes recommends the systemd cgroup driver on cgroup v2 hosts: with "
                "cgroupfs, two managers (systemd and the kubelet/runtime) share one cgroup tree "
                "and may disagree under resource pressure; cgroupfs is {deployer}'s own default "
                "here"
            ).format(deployer=profile)
            if deliberate
            else _(
                "Kubernetes recommends the systemd cgroup driver on cgroup v2 hosts: with "
                "cgroupfs, two managers (systemd and the kubelet/runtime) share one cgroup tree "
                "and may disagree under resource pressure"
            )
        ),
        evidence=(
            driver.evidence,
            *(d.evidence for _who, d in drivers if d.value == "cgroupfs" and d != driver),
            *((init.evidence,) if init.evidence else ()),
        ),
        severity=Severity.INFO if deliberate else Severity.WARNING,
        fix=FixHint(
            summary=_(
                "switch both the runtime and the kubelet to the systemd driver together "
                "(see cgroup-driver-mismatch for the keys); {drain}"
            ).format(drain=_(DRAIN)),
            restart=("containerd", "kubelet"),
        ),
    )


RULE = Rule(
    id="cgroup-driver-not-systemd",
    severity=Severity.WARNING,
    highest=Severity.ERROR,
    title=N_("the cgroup driver does not suit the init system"),
    check=_check_not_systemd,
    tags=("cgroup", "cgroup-v2", "systemd", "runtime"),
    applies_to=N_("all versions; the warning on cgroup v2 hosts whose PID 1 is systemd"),
)
